import { fail } from '../errors.ts';
import type { JsonValue } from '../jcs.ts';
import { SYS_PREFIX } from '../programs/common.ts';
import { isPlainObject } from '../strict.ts';
import { parseMode, type Mode, type MultisigMode, type PosMode } from './mode.ts';

/**
 * The consensus state of a multisig or pos subtree: who may sign its rounds now. It lives in the
 * subtree's own state tree under the node's key `sys/consensus`, so it is covered by every state
 * root, replayed from the log like any other state, and provable with a state proof. The key is
 * absent until the first change: until then the creation mode is in force and the genesis root
 * is exactly SPEC §8's root of the genesis entries.
 *
 * The signers of round h are read from the state at round h-1 (materialized at height h for
 * pos), so a change made in round h is finalized by the set that was in force before it.
 */
export const CONSENSUS_KEY = `${SYS_PREFIX}consensus`;

/** A stake change waiting for its epoch: `delta` is a signed decimal, `from` the first height it counts at. */
export interface PendingStake {
  key: string;
  delta: string;
  from: number;
}

export interface ConsensusState {
  /** The mode in force (same shape as the creation mode, with the current signers/validators). */
  mode: MultisigMode | PosMode;
  /** multisig: each current signer's vote for a new signer set, as `jcs({signers, threshold})`. */
  votes?: Record<string, string>;
  /** pos: stake changes not yet in force, in execution order. */
  pending?: PendingStake[];
  /** pos: unbonded stake per key (from unstaking, or left over after a slash). */
  free?: Record<string, string>;
  /** pos: validators removed for equivocation; they can never be bonded again. */
  slashed?: string[];
}

/** The stored state, or the creation mode's when the key is absent. Malformed → `invalid_mode` (a broken store). */
export function readConsensus(creationMode: MultisigMode | PosMode, stored: JsonValue | undefined): ConsensusState {
  if (stored === undefined) return { mode: creationMode };
  if (!isPlainObject(stored)) fail('invalid_mode', `${CONSENSUS_KEY} is not an object`);
  const mode = parseMode(stored.mode);
  if (mode.type !== creationMode.type) fail('invalid_mode', `${CONSENSUS_KEY} holds a ${mode.type} mode in a ${creationMode.type} subtree`);
  const out: ConsensusState = { mode };
  for (const f of ['votes', 'pending', 'free', 'slashed'] as const) {
    if (stored[f] !== undefined) (out as unknown as Record<string, unknown>)[f] = stored[f];
  }
  return out;
}

/** The JSON value to store (empty parts left out, so the value — and the root — has one form). */
export function consensusValue(s: ConsensusState): JsonValue {
  const out: Record<string, JsonValue> = { mode: s.mode as unknown as JsonValue };
  if (s.votes && Object.keys(s.votes).length > 0) out.votes = s.votes;
  if (s.pending && s.pending.length > 0) out.pending = s.pending as unknown as JsonValue;
  if (s.free && Object.keys(s.free).length > 0) out.free = s.free;
  if (s.slashed && s.slashed.length > 0) out.slashed = s.slashed;
  return out;
}

export function isCoSignedMode(mode: Mode): mode is MultisigMode | PosMode {
  return mode.type === 'multisig' || mode.type === 'pos';
}
