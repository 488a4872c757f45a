import { DstpError, fail } from '../errors.ts';
import { jcs, type JsonValue } from '../jcs.ts';
import type { ProgramResult, ProgramTx } from '../programs/types.ts';
import { exactObject } from '../strict.ts';
import { assertSafeThreshold, parseMode, type MultisigMode } from './mode.ts';
import type { ConsensusState } from './state.ts';

/**
 * Multisig signer-set changes (SPEC §5: "transactions that the current threshold must finalize").
 * A change is voted for with `set_signers {signers, threshold}` by current signers; the vote that
 * brings the number of current signers voting for the same change to the current threshold
 * applies it, and all votes are cleared. The round holding that vote is final under the old set
 * (its signers are read from the state before it); the new set signs from the next round on.
 * `proposalTimeoutMs` stays as created.
 */
export const MULTISIG_CALLS = ['set_signers'] as const;

/** The proposed mode, validated like a creation mode (1..64 distinct keys, 1 <= threshold <= count). */
export function proposedSigners(args: Record<string, JsonValue>, current: Pick<MultisigMode, 'proposalTimeoutMs'>): MultisigMode {
  const a = exactObject(args, ['signers', 'threshold'], 'invalid_args', 'set_signers.args');
  try {
    const m = parseMode({ type: 'multisig', signers: a.signers, threshold: a.threshold, proposalTimeoutMs: current.proposalTimeoutMs });
    return m as MultisigMode;
  } catch (e) {
    if (e instanceof DstpError) fail('invalid_args', `set_signers: ${e.message}`, { ...e.details });
    throw e;
  }
}

/**
 * A `set_signers` vote must name a set that keeps SPEC §5's margin (`2t − n ≥ 1`, `≥ 2` when the
 * host key is a signer) → `invalid_mode` otherwise: refused at accept time, and a failed receipt
 * if such a vote ever reaches a round. `host` is the subtree's host key (round 0's proposer).
 */
export function checkMultisigCall(call: string, args: Record<string, JsonValue>, creation: MultisigMode, host?: string): void {
  if (call !== 'set_signers') fail('unknown_call', `"${call}" is not a multisig system call`, { call });
  assertSafeThreshold(proposedSigners(args, creation), host, 'set_signers.args.threshold');
}

export function applyMultisig(
  state: ConsensusState & { mode: MultisigMode },
  tx: ProgramTx,
): { ok: true; state: ConsensusState } | (ProgramResult & { ok: false }) {
  if (tx.call !== 'set_signers') return { ok: false, code: 'unknown_call' };
  const current = state.mode;
  if (!current.signers.includes(tx.sender)) return { ok: false, code: 'not_a_signer' };
  const next = proposedSigners(tx.args, current);
  const change = jcs({ signers: next.signers, threshold: next.threshold });
  // Votes of keys that are no longer signers never count (they are dropped on every change).
  const votes: Record<string, string> = {};
  for (const [k, v] of Object.entries(state.votes ?? {})) if (current.signers.includes(k)) votes[k] = v;
  votes[tx.sender] = change;
  const agreeing = current.signers.filter((k) => votes[k] === change).length;
  if (agreeing >= current.threshold) return { ok: true, state: { mode: next } };
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(votes).sort()) sorted[k] = votes[k]!;
  return { ok: true, state: { mode: current, votes: sorted } };
}
