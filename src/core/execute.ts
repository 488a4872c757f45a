import { DstpError, fail } from './errors.ts';
import { jcs, type JsonValue } from './jcs.ts';
import { MAX_STATE_KEY_CHARS } from './limits.ts';
import { isSysKey, nonceKey } from './programs/common.ts';
import type { Program, ProgramTx, StateView } from './programs/types.ts';
import { failedReceipt, okReceipt, type Receipt } from './receipt.ts';
import { codePointLength } from './strict.ts';
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

function planTx(program: Program, config: unknown, tx: IdentifiedTx['tx']): TxPlan {
  const reads = [nonceKey(tx.sender)];
  try {
    program.checkCall(config, tx.call, tx.args);
  } catch (e) {
    // Accept-time checks normally keep these out of the log; a replayed log is checked again.
    return { reads, failure: e instanceof DstpError ? e.code : FAILURE.programError };
  }
  try {
    return { reads: reads.concat(program.reads(config, programTx(tx))) };
  } catch {
    return { reads, failure: FAILURE.programError };
  }
}

/** The set of state keys a round needs, in first-use order. */
export function planReads(program: Program, config: unknown, txs: readonly IdentifiedTx[]): string[] {
  const keys = new Set<string>();
  for (const { tx } of txs) for (const k of planTx(program, config, tx).reads) keys.add(k);
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

export function executeRound({ program, config, txs, state }: ExecuteInput): ExecuteOutput {
  const overlay = new Map<string, JsonValue | null>();
  const receipts: Receipt[] = [];

  txs.forEach(({ id, tx }, index) => {
    const plan = planTx(program, config, tx);
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

    const outcome: Outcome = plan.failure !== undefined ? { ok: false, code: plan.failure } : runOne(program, config, view, tx);
    if (missed !== undefined) {
      fail('undeclared_read', `program "${program.name}" read "${missed}" without declaring it for ${tx.call}`, { key: missed, call: tx.call, tx: id });
    }
    if (outcome.ok) {
      for (const [k, v] of outcome.writes) overlay.set(k, v);
      receipts.push(okReceipt(id, index));
    } else {
      receipts.push(failedReceipt(id, index, outcome.code));
    }
    // Failed or not, the nonce is consumed (SPEC §6).
    overlay.set(nKey, tx.nonce + 1);
  });

  return { writes: overlay, receipts };
}

type Outcome = { ok: true; writes: Map<string, JsonValue | null> } | { ok: false; code: string };

/** Runs a call that passed `checkCall`; every way a program can misbehave becomes a failure code. */
function runOne(program: Program, config: unknown, view: StateView, tx: IdentifiedTx['tx']): Outcome {
  let result;
  try {
    result = program.apply(config, view, programTx(tx));
  } catch (e) {
    // A declaration miss is a bug in the program, not an outcome of the transaction: abort.
    if (e instanceof DstpError && e.code === 'undeclared_read') throw e;
    return { ok: false, code: FAILURE.programError };
  }
  if (!result.ok) {
    return { ok: false, code: typeof result.code === 'string' && FAILURE_CODE_RE.test(result.code) ? result.code : FAILURE.programError };
  }
  for (const [key, value] of result.writes) {
    if (typeof key !== 'string' || key.length === 0 || codePointLength(key) > MAX_STATE_KEY_CHARS) {
      return { ok: false, code: FAILURE.programError };
    }
    if (isSysKey(key)) return { ok: false, code: FAILURE.forbiddenKey };
    if (value !== null) {
      try {
        jcs(value);
      } catch {
        return { ok: false, code: FAILURE.programError };
      }
    }
  }
  return { ok: true, writes: result.writes };
}
