/**
 * Unbounded integers travel as canonical decimal strings (SPEC §1): digits only, no sign, no
 * leading zeros, "0" for zero. Canonical form matters because state values are hashed: "007" and
 * "7" would give different roots for the same balance.
 */
export const MAX_AMOUNT_DIGITS = 78; // 10^78 > 2^256: room for any 256-bit quantity
export const MAX_AMOUNT = 10n ** BigInt(MAX_AMOUNT_DIGITS) - 1n;

const CANONICAL = /^(?:0|[1-9][0-9]*)$/;

export function isCanonicalAmount(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_AMOUNT_DIGITS && CANONICAL.test(v);
}

/** Parses a canonical amount; `undefined` when `v` is not one. */
export function parseAmount(v: unknown): bigint | undefined {
  return isCanonicalAmount(v) ? BigInt(v) : undefined;
}

export function formatAmount(n: bigint): string {
  return n.toString(10);
}
