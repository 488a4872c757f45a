import { formatAmount, parseAmount } from '../amount.ts';
import { fail } from '../errors.ts';
import { exactObject, isSafeInt } from '../strict.ts';
import { parseKeyField } from '../tx.ts';

/** A subtree's security mode (SPEC §5), as written in its creation request. */
export type Mode = PoaMode | MultisigMode | PosMode;

export interface PoaMode {
  type: 'poa';
  authority: string;
}

export interface MultisigMode {
  type: 'multisig';
  signers: string[];
  threshold: number;
  proposalTimeoutMs: number;
}

export interface PosMode {
  type: 'pos';
  validators: { key: string; stake: string }[];
  epochRounds: number;
  /**
   * Share of a validator's stake that equivocation evidence burns, in basis points (0..10000).
   * Not in SPEC §5's example, so optional; absent means DEFAULT_SLASH_BPS (docs/consensus.md).
   */
  slashBps?: number;
}

export const MAX_SIGNERS = 64;
/** SPEC §5 is silent on the size of a validator set; this keeps a finality check cheap. */
export const MAX_VALIDATORS = 256;
export const MIN_PROPOSAL_TIMEOUT_MS = 1000;
export const MAX_PROPOSAL_TIMEOUT_MS = 3_600_000;
/** 10 %: the slash when a pos mode does not name `slashBps`. */
export const DEFAULT_SLASH_BPS = 1000;
export const MAX_SLASH_BPS = 10_000;

/** Strict parse: exact field set per type, canonical keys, no duplicates → DstpError('invalid_mode'). */
export function parseMode(value: unknown): Mode {
  const head = exactObject(value, ['type'], 'invalid_mode', 'mode', ['authority', 'signers', 'threshold', 'proposalTimeoutMs', 'validators', 'epochRounds', 'slashBps']);
  switch (head.type) {
    case 'poa': {
      const m = exactObject(value, ['type', 'authority'], 'invalid_mode', 'mode');
      return { type: 'poa', authority: modeKey(m.authority, 'mode.authority') };
    }
    case 'multisig': {
      const m = exactObject(value, ['type', 'signers', 'threshold', 'proposalTimeoutMs'], 'invalid_mode', 'mode');
      if (!Array.isArray(m.signers) || m.signers.length < 1 || m.signers.length > MAX_SIGNERS) {
        fail('invalid_mode', `mode.signers must list 1..${MAX_SIGNERS} keys`, { field: 'mode.signers' });
      }
      const signers = distinctKeys(m.signers, 'mode.signers');
      if (!isSafeInt(m.threshold, 1, signers.length)) {
        fail('invalid_mode', `mode.threshold must be an integer in 1..${signers.length}`, { field: 'mode.threshold' });
      }
      if (!isSafeInt(m.proposalTimeoutMs, MIN_PROPOSAL_TIMEOUT_MS, MAX_PROPOSAL_TIMEOUT_MS)) {
        fail('invalid_mode', `mode.proposalTimeoutMs must be an integer in ${MIN_PROPOSAL_TIMEOUT_MS}..${MAX_PROPOSAL_TIMEOUT_MS}`, {
          field: 'mode.proposalTimeoutMs',
        });
      }
      return { type: 'multisig', signers, threshold: m.threshold, proposalTimeoutMs: m.proposalTimeoutMs };
    }
    case 'pos': {
      const m = exactObject(value, ['type', 'validators', 'epochRounds'], 'invalid_mode', 'mode', ['slashBps']);
      if (!Array.isArray(m.validators) || m.validators.length < 1 || m.validators.length > MAX_VALIDATORS) {
        fail('invalid_mode', `mode.validators must list 1..${MAX_VALIDATORS} validators`, { field: 'mode.validators' });
      }
      const validators = m.validators.map((v, i) => {
        const field = `mode.validators[${i}]`;
        const o = exactObject(v, ['key', 'stake'], 'invalid_mode', field);
        const stake = parseAmount(o.stake);
        if (stake === undefined || stake === 0n) {
          fail('invalid_mode', `${field}.stake must be a canonical decimal string > 0`, { field: `${field}.stake` });
        }
        return { key: modeKey(o.key, `${field}.key`), stake: formatAmount(stake) };
      });
      distinctKeys(validators.map((v) => v.key), 'mode.validators');
      if (!isSafeInt(m.epochRounds, 1)) fail('invalid_mode', 'mode.epochRounds must be an integer >= 1', { field: 'mode.epochRounds' });
      if (m.slashBps !== undefined && !isSafeInt(m.slashBps, 0, MAX_SLASH_BPS)) {
        fail('invalid_mode', `mode.slashBps must be an integer in 0..${MAX_SLASH_BPS}`, { field: 'mode.slashBps' });
      }
      // Only present when given: the creation signatures cover exactly the fields sent.
      return { type: 'pos', validators, epochRounds: m.epochRounds, ...(m.slashBps !== undefined ? { slashBps: m.slashBps } : {}) };
    }
    default:
      fail('invalid_mode', 'mode.type must be "poa", "multisig" or "pos"', { field: 'mode.type' });
  }
}

/**
 * SPEC §5 safety margin of a multisig mode: at most one header per height is final while fewer
 * than `2t − n` signers are faulty. A final header has t signers and an expired one t others; two
 * sets of t among n share at least 2t − n signers, each of whom would have broken its own rule.
 */
export function faultMargin(mode: Pick<MultisigMode, 'signers' | 'threshold'>): number {
  return 2 * mode.threshold - mode.signers.length;
}

/**
 * Why `mode` is unsafe, or null: SPEC §5 requires `2t − n ≥ 1`, and `≥ 2` when the host node's key
 * (`host`, the party the signers do not trust) is one of the signers.
 */
export function unsafeThresholdReason(mode: Pick<MultisigMode, 'signers' | 'threshold'>, host?: string): string | null {
  const margin = faultMargin(mode);
  const n = mode.signers.length;
  const t = mode.threshold;
  if (host !== undefined && mode.signers.includes(host)) {
    if (margin >= 2) return null;
    return `threshold ${t} of ${n} signers gives 2t - n = ${margin}; the node's own key ${host} is a signer and counts as possibly faulty, so 2t - n must be at least 2 (threshold >= ${Math.ceil((n + 2) / 2)})`;
  }
  if (margin >= 1) return null;
  return `threshold ${t} of ${n} signers gives 2t - n = ${margin}: two disjoint groups of honest signers could finalize two headers at one height; 2t - n must be at least 1 (threshold >= ${Math.ceil((n + 1) / 2)})`;
}

/** Throws `invalid_mode` (field `mode.threshold`) saying why, when `unsafeThresholdReason` finds a reason. */
export function assertSafeThreshold(mode: Pick<MultisigMode, 'signers' | 'threshold'>, host?: string, field = 'mode.threshold'): void {
  const why = unsafeThresholdReason(mode, host);
  if (why !== null) fail('invalid_mode', why, { field, signers: mode.signers.length, threshold: mode.threshold });
}

function modeKey(v: unknown, field: string): string {
  return parseKeyField(v, field, 'invalid_mode');
}

function distinctKeys(list: unknown[], field: string): string[] {
  const seen = new Set<string>();
  return list.map((k, i) => {
    const key = typeof k === 'string' && seen.has(k) ? fail('invalid_mode', `${field} lists a key twice`, { field: `${field}[${i}]` }) : k;
    const parsed = modeKey(key, `${field}[${i}]`);
    seen.add(parsed);
    return parsed;
  });
}
