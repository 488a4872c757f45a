import type { SystemCalls } from '../execute.ts';
import type { Hash32, Sha256 } from '../hash.ts';
import type { JsonValue } from '../jcs.ts';
import type { SparseMerkleTree } from '../smt/tree.ts';
import { readState, type ValueReader } from '../state-reader.ts';
import type { Mode, MultisigMode, PosMode } from './mode.ts';
import { applyMultisig, checkMultisigCall, MULTISIG_CALLS } from './multisig.ts';
import { applyPos, checkPosCall, materializePos, POS_CALLS } from './pos.ts';
import { CONSENSUS_KEY, consensusValue, isCoSignedMode, readConsensus, type ConsensusState } from './state.ts';

/**
 * The mode's system calls and the consensus state they keep (see state.ts). In a multisig subtree
 * `set_signers` is reserved, in a pos subtree `stake`, `unstake` and `slash`; a PoA subtree has
 * none. Reserved names are taken before the program sees the call, in the executor, at accept
 * time and in replay alike.
 */
export interface RoundContext {
  /** Height of the round being executed. */
  height: number;
  network: string;
  subtree: string;
  hash?: Sha256;
  /** The subtree's host key (round 0's proposer): a multisig signer set holding it needs `2t − n ≥ 2`. */
  host?: string;
}

export function systemCallNames(mode: Mode): readonly string[] {
  return mode.type === 'multisig' ? MULTISIG_CALLS : mode.type === 'pos' ? POS_CALLS : [];
}

/**
 * Accept-time check: `false` when `call` is not a system call of this mode (the program judges
 * it), `true` when it is one and its arguments are well formed; throws `invalid_args` otherwise.
 */
export function checkSystemCall(mode: Mode, call: string, args: Record<string, JsonValue>, host?: string): boolean {
  if (!systemCallNames(mode).includes(call)) return false;
  if (mode.type === 'multisig') checkMultisigCall(call, args, mode, host);
  else checkPosCall(call, args);
  return true;
}

/** The consensus state in force at `height`, from the value stored before that round. */
export function consensusAt(creationMode: MultisigMode | PosMode, stored: JsonValue | undefined, height: number): ConsensusState {
  const s = readConsensus(creationMode, stored);
  return s.mode.type === 'pos' ? materializePos(s as ConsensusState & { mode: PosMode }, height) : s;
}

/** Who signs round `height`: the creation mode for PoA, the stored consensus state otherwise. */
export function effectiveMode(creationMode: Mode, stored: JsonValue | undefined, height: number): Mode {
  if (!isCoSignedMode(creationMode)) return creationMode;
  return consensusAt(creationMode, stored, height).mode;
}

/** Reads `sys/consensus` at `root` (the state after round height-1) and returns the mode for `height`. */
export async function loadEffectiveMode(input: {
  tree: SparseMerkleTree;
  values: ValueReader;
  /** State root after round `height - 1`. */
  root: Hash32;
  creationMode: Mode;
  height: number;
  hash?: Sha256;
}): Promise<Mode> {
  if (!isCoSignedMode(input.creationMode)) return input.creationMode;
  const loaded = await readState(input.tree, input.values, input.root, [CONSENSUS_KEY], input.hash);
  return effectiveMode(input.creationMode, loaded.get(CONSENSUS_KEY), input.height);
}

/** The system calls of one round; `undefined` for PoA. */
export function systemCalls(creationMode: Mode, ctx: RoundContext): SystemCalls | undefined {
  if (!isCoSignedMode(creationMode)) return undefined;
  const names = systemCallNames(creationMode);
  return {
    handles: (call) => names.includes(call),
    checkCall: (call, args) => {
      checkSystemCall(creationMode, call, args, ctx.host);
    },
    reads: () => [CONSENSUS_KEY],
    mayWrite: (key) => key === CONSENSUS_KEY,
    apply(state, tx) {
      const current = consensusAt(creationMode, state.get(CONSENSUS_KEY), ctx.height);
      const r =
        current.mode.type === 'multisig'
          ? applyMultisig(current as ConsensusState & { mode: MultisigMode }, tx)
          : applyPos(current as ConsensusState & { mode: PosMode }, tx, ctx);
      if (!r.ok) return r;
      return { ok: true, writes: new Map([[CONSENSUS_KEY, consensusValue(r.state)]]) };
    },
  };
}
