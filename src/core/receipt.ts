import type { Sha256 } from './hash.ts';
import { jcsBytes } from './jcs.ts';
import { merkleRoot } from './merkle-log.ts';

/**
 * The outcome of one transaction in a round (SPEC §8). `code` is present exactly when the
 * transaction failed, so `jcs(receipt)` — and the receipts root — has one spelling per outcome.
 * `gas` is present exactly for transactions of user programs (SPEC §7.1).
 */
export type Receipt =
  | { tx: string; index: number; status: 'ok'; gas?: number }
  | { tx: string; index: number; status: 'failed'; code: string; gas?: number };

export function okReceipt(tx: string, index: number, gas?: number): Receipt {
  return gas === undefined ? { tx, index, status: 'ok' } : { tx, index, status: 'ok', gas };
}

export function failedReceipt(tx: string, index: number, code: string, gas?: number): Receipt {
  return gas === undefined ? { tx, index, status: 'failed', code } : { tx, index, status: 'failed', code, gas };
}

/** RFC 6962 tree hash over `jcs(receipt)` in execution order; `H("")` for an empty round. */
export function receiptsRoot(receipts: readonly Receipt[], hash?: Sha256): Uint8Array {
  return merkleRoot(receipts.map((r) => jcsBytes(r)), hash);
}
