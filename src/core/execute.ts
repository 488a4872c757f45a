import { DstpError, fail } from './errors.ts';
import { jcs, type JsonValue } from './jcs.ts';
import { MAX_STATE_KEY_CHARS } from './limits.ts';
import { isSysKey, nonceKey } from './programs/common.ts';
import type { Program, ProgramResult, ProgramTx, StateView } from './programs/types.ts';
import { failedReceipt, okReceipt, type Receipt } from './receipt.ts';
import { codePointLength } from './strict.ts';
import { isNodeCall, nodeCalls } from './system-calls.ts';
import type { IdentifiedTx } from './tx.ts';

/**
 * Round execution (SPEC §7): a pure function from (state at the previous final root, ordered
 * transactions) to writes and receipts. The caller loads exactly the keys `planReads` names; the
 * executor checks every read against the reading transaction's own declaration, so a program
 * that forgets to declare a key fails loudly instead of silently reading "absent".
 */

/** Failure codes the executor itself assigns (programs add their own, e.g. `insufficient_balance`). */
export const FAILURE = {
  /** The program tried to write a key under `sys/`. */
  forbiddenKey: 'forbidden_key',
  /** The program threw, returned something malformed, or wrote a non-JSON value or bad key. */
  programError: 'program_error',
} as const;

const FAILURE_CODE_RE = /^[a-z][a-z0-9_]{0,63}$/;

export interface ExecuteInput {
  program: Program;
  /** The parsed config (`program.parseConfig`). */
  config: unknown;
  txs: readonly IdentifiedTx[];
  /** Values at the previous final root for (at least) the keys of `planReads`; `undefined` = absent. */
  state: StateView;
  /** The mode's system calls (multisig/pos), built for this round; see core/consensus/system.ts. */
  system?: SystemCalls;
  /**
   * The subtree's host key (round 0's proposer): the only sender of node calls (`sys_*`, see
   * system-calls.ts), which every subtree has whatever its program and mode.
   */
  host?: string;
}

/**
 * Calls that belong to the subtree's security mode rather than its program (signer-set votes,
 * stake, unstake, slash). They run through the same executor — nonce, receipts, declared reads —
 * but may write the node's own keys that `mayWrite` names, which a program never may.
 */
export interface SystemCalls {
  /** Whether `call` is a system call (its name is reserved in this subtree). */
  handles(call: string): boolean;
  /** Accept-time shape check; throws DstpError('invalid_args'). */
  checkCall(call: string, args: Record<string, JsonValue>): void;
  reads(tx: ProgramTx): string[];
  apply(state: StateView, tx: ProgramTx): ProgramResult;
  /** The `sys/` keys system calls may write. */
  mayWrite(key: string): boolean;
}

export interface ExecuteOutput {
  /** Net writes of the round, last write per key; `null` deletes. Includes `sys/nonce/*`. */
  writes: Map<string, JsonValue | null>;
  receipts: Receipt[];
}

function programTx(tx: IdentifiedTx['tx']): ProgramTx {
  return { sender: tx.sender, nonce: tx.nonce, call: tx.call, args: tx.args };
}

/**
 * What a transaction may read: its sender's nonce plus the program's declaration. A call that fails
 * `checkCall` (or whose declaration throws) reads nothing from the program: it fails before running,
 * with the code decided here.
 */
interface TxPlan {
  reads: string[];
  failure?: string;
}

/** The program, or the mode's system calls when the call is one of theirs, behind one shape. */
interface Runner {
  checkCall(call: string, args: Record<string, JsonValue>): void;
  reads(tx: ProgramTx): string[];
  apply(state: StateView, tx: ProgramTx): ProgramResult;
  /** The `sys/` keys this runner may write (none for a program). */
  mayWrite?: (key: string) => boolean;
}

/** Built once per round: per-transaction dispatch is then a name check, not new closures. */
function runners(program: Program, config: unknown, system: SystemCalls | undefined, host: string | undefined): (call: string) => Runner {
  const base: Runner = {
    checkCall: (c, a) => program.checkCall(config, c, a),
    reads: (t) => program.reads(config, t),
    apply: (s, t) => program.apply(config, s, t),
  };
  // `sys_*` names belong to the node in every subtree: no program or mode ever sees them.
  const node: Runner = nodeCalls(host);
  if (!system) return (call) => (isNodeCall(call) ? node : base);
  const sys: Runner = {
    checkCall: (c, a) => system.checkCall(c, a),
    reads: (t) => system.reads(t),
    apply: (s, t) => system.apply(s, t),
    mayWrite: (k) => system.mayWrite(k),
  };
  return (call) => (isNodeCall(call) ? node : system.handles(call) ? sys : base);
}

function planTx(runner: Runner, tx: IdentifiedTx['tx']): TxPlan {
  const reads = [nonceKey(tx.sender)];
  try {
    runner.checkCall(tx.call, tx.args);
  } catch (e) {
    if (abortsRound(e)) throw e;
    // Accept-time checks normally keep these out of the log; a replayed log is checked again.
    return { reads, failure: e instanceof DstpError ? e.code : FAILURE.programError };
  }
  try {
    return { reads: reads.concat(runner.reads(programTx(tx))) };
  } catch (e) {
    if (abortsRound(e)) throw e;
    return { reads, failure: FAILURE.programError };
  }
}

/** The set of state keys a round needs, in first-use order. */
export function planReads(program: Program, config: unknown, txs: readonly IdentifiedTx[], system?: SystemCalls, host?: string): string[] {
  const keys = new Set<string>();
  const pick = runners(program, config, system, host);
  for (const { tx } of txs) for (const k of planTx(pick(tx.call), tx).reads) keys.add(k);
  return [...keys];
}

/** A state view over loaded values that refuses keys it was not loaded with. */
export function loadedState(values: ReadonlyMap<string, JsonValue | undefined>): StateView {
  return {
    get(key) {
      if (!values.has(key)) fail('undeclared_read', `state key "${key}" was not loaded for this round`, { key });
      return values.get(key);
    },
  };
}

export function executeRound({ program, config, txs, state, system, host }: ExecuteInput): ExecuteOutput {
  const overlay = new Map<string, JsonValue | null>();
  const receipts: Receipt[] = [];
  const pick = runners(program, config, system, host);

  txs.forEach(({ id, tx }, index) => {
    const runner = pick(tx.call);
    const plan = planTx(runner, tx);
    const declared = new Set(plan.reads);
    let missed: string | undefined;
    const view: StateView = {
      get(key) {
        if (!declared.has(key)) {
          missed = key; // remembered too, in case the program swallows the exception
          fail('undeclared_read', `program "${program.name}" read "${key}" without declaring it for ${tx.call}`, {
            key,
            call: tx.call,
            tx: id,
          });
        }
        if (overlay.has(key)) return overlay.get(key) ?? undefined;
        return state.get(key);
      },
    };

    // The log guarantees gap-free nonces; a mismatch means the input is not a valid log prefix.
    const nKey = nonceKey(tx.sender);
    const stored = view.get(nKey);
    const expected = stored === undefined ? 0 : stored;
    if (expected !== tx.nonce) {
      fail('nonce_mismatch', `tx ${id} has nonce ${tx.nonce}, state expects ${String(expected)}`, { tx: id, expected, got: tx.nonce });
    }

    const outcome: Outcome = plan.failure !== undefined ? { ok: false, code: plan.failure } : runOne(runner, view, tx, runner.mayWrite);
    // A metered program reports its own undeclared read as a failure (SPEC §7.1); any other
    // program that read an undeclared key has a bug, and the round stops.
    if (missed !== undefined && !(outcome.gas !== undefined && !outcome.ok && outcome.code === 'undeclared_read')) {
      fail('undeclared_read', `program "${program.name}" read "${missed}" without declaring it for ${tx.call}`, { key: missed, call: tx.call, tx: id });
    }
    if (outcome.ok) {
      for (const [k, v] of outcome.writes) overlay.set(k, v);
      receipts.push(okReceipt(id, index, outcome.gas));
    } else {
      receipts.push(failedReceipt(id, index, outcome.code, outcome.gas));
    }
    // Failed or not, the nonce is consumed (SPEC §6).
    overlay.set(nKey, tx.nonce + 1);
  });

  return { writes: overlay, receipts };
}

/**
 * A failure of the machine running the program rather than of the program (e.g. the sandbox's
 * host overflowed its own stack): never a receipt, since another node would not fail the same way.
 */
function abortsRound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { abortsRound?: unknown }).abortsRound === true;
}

type Outcome = { ok: true; writes: Map<string, JsonValue | null>; gas?: number } | { ok: false; code: string; gas?: number };

/** Runs a call that passed `checkCall`; every way a program can misbehave becomes a failure code. */
function runOne(runner: Runner, view: StateView, tx: IdentifiedTx['tx'], mayWriteSys?: (key: string) => boolean): Outcome {
  let result;
  try {
    result = runner.apply(view, programTx(tx));
  } catch (e) {
    // A declaration miss is a bug in the program, not an outcome of the transaction: abort.
    if (e instanceof DstpError && e.code === 'undeclared_read') throw e;
    if (abortsRound(e)) throw e;
    return { ok: false, code: FAILURE.programError };
  }
  const gas = result.gas;
  const failed = (code: string): Outcome => (gas === undefined ? { ok: false, code } : { ok: false, code, gas });
  if (!result.ok) {
    return failed(typeof result.code === 'string' && FAILURE_CODE_RE.test(result.code) ? result.code : FAILURE.programError);
  }
  for (const [key, value] of result.writes) {
    if (typeof key !== 'string' || key.length === 0 || codePointLength(key) > MAX_STATE_KEY_CHARS) {
      return failed(FAILURE.programError);
    }
    if (isSysKey(key) && !mayWriteSys?.(key)) return failed(FAILURE.forbiddenKey);
    if (value !== null) {
      try {
        jcs(value);
      } catch {
        return failed(FAILURE.programError);
      }
    }
  }
  return gas === undefined ? { ok: true, writes: result.writes } : { ok: true, writes: result.writes, gas };
}
