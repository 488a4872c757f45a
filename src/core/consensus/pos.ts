import { formatAmount, isCanonicalAmount, parseAmount } from '../amount.ts';
import { fail } from '../errors.ts';
import { sha256, type Sha256 } from '../hash.ts';
import { toHex } from '../hex.ts';
import type { JsonValue } from '../jcs.ts';
import type { ProgramResult, ProgramTx } from '../programs/types.ts';
import { exactObject } from '../strict.ts';
import { parseKeyField } from '../tx.ts';
import { DEFAULT_SLASH_BPS, MAX_VALIDATORS, type PosMode } from './mode.ts';
import { parseEvidence, verifyEvidence } from './evidence.ts';
import type { ConsensusState, PendingStake } from './state.ts';

/**
 * Proof of stake (SPEC §5): the proposer of each height is drawn by stake weight from the previous
 * round's hash, a round is final with signatures holding > 2/3 of the active stake, stake moves by
 * `stake`/`unstake` transactions that take effect at the next epoch boundary, and equivocation
 * evidence (a `slash` transaction) burns a share of a validator's stake and removes it at once.
 *
 * Stake is a resource of the subtree's consensus, not of its program: the genesis validators hold
 * all of it, `unstake` turns bonded stake into free stake (at the epoch boundary), `stake` bonds
 * free stake to a validator (the sender or another key), slashing burns it. Nothing mints stake,
 * so no transaction can buy a supermajority that the existing stake holders did not hand over.
 */

export const POS_CALLS = ['stake', 'unstake', 'slash'] as const;

type Validator = { key: string; stake: string };

export function totalStake(validators: readonly Validator[]): bigint {
  let t = 0n;
  for (const v of validators) t += BigInt(v.stake);
  return t;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0; // keys are ASCII: code-unit order = byte order
}

/**
 * The proposer of a height: `r = uint256_be(H(prev)) mod totalStake`, where `prev` is the 32-byte
 * hash of the previous round (the header's `prev`); walking the validators in ascending key order
 * and summing their stakes, the first validator whose running sum exceeds `r` proposes. Each
 * validator is chosen with probability stake/total (up to a bias below 2^-190 for any real total).
 */
export function chooseProposer(validators: readonly Validator[], prevHash: Uint8Array, hash: Sha256 = sha256): string {
  const total = totalStake(validators);
  if (total === 0n) fail('invalid_mode', 'the validator set holds no stake: no proposer can be chosen');
  const r = BigInt(`0x${toHex(hash(prevHash))}`) % total;
  let acc = 0n;
  for (const v of [...validators].sort((a, b) => compareKeys(a.key, b.key))) {
    acc += BigInt(v.stake);
    if (r < acc) return v.key;
  }
  throw new Error('unreachable: r < total');
}

/** Epochs are runs of `epochRounds` heights: epoch 0 is heights 1..E, epoch 1 is E+1..2E, … */
export function epochOf(height: number, epochRounds: number): number {
  return Math.floor(Math.max(0, height - 1) / epochRounds);
}

/** First height of the epoch after the one holding `height`: where stake moved at `height` counts. */
export function nextEpochStart(height: number, epochRounds: number): number {
  return (epochOf(height, epochRounds) + 1) * epochRounds + 1;
}

/**
 * The validator set in force at `height`: every pending change with `from <= height` folded in,
 * in the order the transactions executed. A bond adds stake (a new key joins at the end of the
 * list); an unbond removes it and credits the key's free stake; a validator left with 0 leaves.
 */
export function materializePos(state: ConsensusState & { mode: PosMode }, height: number): ConsensusState & { mode: PosMode } {
  const pending = state.pending ?? [];
  if (!pending.some((p) => p.from <= height)) return state;
  const stakes = new Map<string, bigint>(state.mode.validators.map((v) => [v.key, BigInt(v.stake)]));
  const free = new Map<string, bigint>(Object.entries(state.free ?? {}).map(([k, v]) => [k, BigInt(v)]));
  const rest: PendingStake[] = [];
  for (const p of pending) {
    if (p.from > height) {
      rest.push(p);
      continue;
    }
    const delta = BigInt(p.delta);
    const next = (stakes.get(p.key) ?? 0n) + delta;
    if (next > 0n) stakes.set(p.key, next);
    else stakes.delete(p.key);
    if (delta < 0n) free.set(p.key, (free.get(p.key) ?? 0n) - delta);
  }
  return withStakes(state, stakes, free, rest);
}

function withStakes(
  state: ConsensusState & { mode: PosMode },
  stakes: Map<string, bigint>,
  free: Map<string, bigint>,
  pending: PendingStake[],
): ConsensusState & { mode: PosMode } {
  const validators = [...stakes].map(([key, s]) => ({ key, stake: formatAmount(s) }));
  const freeObj: Record<string, string> = {};
  for (const [k, v] of [...free].sort((a, b) => compareKeys(a[0], b[0]))) if (v > 0n) freeObj[k] = formatAmount(v);
  const out: ConsensusState & { mode: PosMode } = { ...state, mode: { ...state.mode, validators } };
  if (pending.length > 0) out.pending = pending;
  else delete out.pending;
  if (Object.keys(freeObj).length > 0) out.free = freeObj;
  else delete out.free;
  return out;
}

export function checkPosCall(call: string, args: Record<string, JsonValue>): void {
  switch (call) {
    case 'stake': {
      const a = exactObject(args, ['amount'], 'invalid_args', 'stake.args', ['validator']);
      positiveAmount(a.amount, 'stake.args.amount');
      if (a.validator !== undefined) parseKeyField(a.validator, 'stake.args.validator', 'invalid_args');
      return;
    }
    case 'unstake': {
      const a = exactObject(args, ['amount'], 'invalid_args', 'unstake.args');
      positiveAmount(a.amount, 'unstake.args.amount');
      return;
    }
    case 'slash': {
      const a = exactObject(args, ['evidence'], 'invalid_args', 'slash.args');
      try {
        parseEvidence(a.evidence);
      } catch (e) {
        fail('invalid_args', `slash.args.evidence: ${e instanceof Error ? e.message : String(e)}`, { field: 'slash.args.evidence' });
      }
      return;
    }
    default:
      fail('unknown_call', `"${call}" is not a pos system call`, { call });
  }
}

function positiveAmount(v: unknown, field: string): bigint {
  const n = parseAmount(v);
  if (n === undefined || n === 0n) fail('invalid_args', `${field} must be a canonical decimal string > 0`, { field });
  return n;
}

export interface PosContext {
  height: number;
  network: string;
  subtree: string;
  hash?: Sha256;
}

/** Runs one pos system call on the state materialized at the round's height. */
export function applyPos(
  state: ConsensusState & { mode: PosMode },
  tx: ProgramTx,
  ctx: PosContext,
): { ok: true; state: ConsensusState & { mode: PosMode } } | (ProgramResult & { ok: false }) {
  const stakes = new Map<string, bigint>(state.mode.validators.map((v) => [v.key, BigInt(v.stake)]));
  const free = new Map<string, bigint>(Object.entries(state.free ?? {}).map(([k, v]) => [k, BigInt(v)]));
  const pending = [...(state.pending ?? [])];
  const slashed = new Set(state.slashed ?? []);
  const from = nextEpochStart(ctx.height, state.mode.epochRounds);
  const pendingOf = (key: string) => pending.filter((p) => p.key === key).reduce((s, p) => s + BigInt(p.delta), 0n);

  switch (tx.call) {
    case 'stake': {
      const amount = BigInt(tx.args.amount as string);
      const target = (tx.args.validator as string | undefined) ?? tx.sender;
      if (slashed.has(target)) return { ok: false, code: 'slashed_validator' };
      if ((free.get(tx.sender) ?? 0n) < amount) return { ok: false, code: 'insufficient_stake' };
      const joining = !stakes.has(target) && !pending.some((p) => p.key === target);
      const size = new Set([...stakes.keys(), ...pending.map((p) => p.key)]).size;
      if (joining && size >= MAX_VALIDATORS) return { ok: false, code: 'too_many_validators' };
      free.set(tx.sender, (free.get(tx.sender) ?? 0n) - amount);
      pending.push({ key: target, delta: formatAmount(amount), from });
      break;
    }
    case 'unstake': {
      const amount = BigInt(tx.args.amount as string);
      const bonded = (stakes.get(tx.sender) ?? 0n) + pendingOf(tx.sender);
      if (bonded < amount) return { ok: false, code: 'insufficient_stake' };
      // The set must keep some stake, or no round could ever be final again.
      const after = totalStake(state.mode.validators) + pending.reduce((s, p) => s + BigInt(p.delta), 0n) - amount;
      if (after <= 0n) return { ok: false, code: 'last_stake' };
      pending.push({ key: tx.sender, delta: `-${formatAmount(amount)}`, from });
      break;
    }
    case 'slash': {
      let facts;
      try {
        facts = verifyEvidence(parseEvidence(tx.args.evidence), ctx.hash);
      } catch {
        return { ok: false, code: 'invalid_evidence' };
      }
      if (facts.network !== ctx.network || facts.subtree !== ctx.subtree) return { ok: false, code: 'invalid_evidence' };
      const v = facts.validator;
      if (slashed.has(v)) return { ok: false, code: 'already_slashed' };
      if (!stakes.has(v)) return { ok: false, code: 'not_a_validator' };
      // Stake bonded to the validator but not yet in force is at stake too; its unbonds are moot.
      let at = stakes.get(v)!;
      for (const p of pending) if (p.key === v && BigInt(p.delta) > 0n) at += BigInt(p.delta);
      const bps = BigInt(state.mode.slashBps ?? DEFAULT_SLASH_BPS);
      const burned = (at * bps) / 10_000n;
      stakes.delete(v);
      free.set(v, (free.get(v) ?? 0n) + at - burned);
      const kept = pending.filter((p) => p.key !== v);
      pending.length = 0;
      pending.push(...kept);
      slashed.add(v);
      break;
    }
    default:
      return { ok: false, code: 'unknown_call' };
  }
  const out = withStakes(state, stakes, free, pending);
  if (slashed.size > 0) out.slashed = [...slashed].sort(compareKeys);
  return { ok: true, state: out };
}

/** Checks the shape of a stored stake change (the node wrote it; a bad one means a broken store). */
export function isPendingStake(v: unknown): v is PendingStake {
  const p = v as PendingStake;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.key === 'string' &&
    typeof p.delta === 'string' &&
    isCanonicalAmount(p.delta.startsWith('-') ? p.delta.slice(1) : p.delta) &&
    Number.isSafeInteger(p.from)
  );
}
