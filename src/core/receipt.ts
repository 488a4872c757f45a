import type { Sha256 } from './hash.ts';
import { jcsBytes } from './jcs.ts';
import { merkleRoot } from './merkle-log.ts';

/**
 * The outcome of one transaction in a round (SPEC §8). `code` is present exactly when the
 * transaction failed, so `jcs(receipt)` — and the receipts root — has one spelling per outcome.
 */
export type Receipt =
  | { tx: string; index: number; status: 'ok' }
  | { tx: string; index: number; status: 'failed'; code: string };

export function okReceipt(tx: string, index: number): Receipt {
  return { tx, index, status: 'ok' };
}

export function failedReceipt(tx: string, index: number, code: string): Receipt {
  return { tx, index, status: 'failed', code };
}

/** RFC 6962 tree hash over `jcs(receipt)` in execution order; `H("")` for an empty round. */
export function receiptsRoot(receipts: readonly Receipt[], hash?: Sha256): Uint8Array {
  return merkleRoot(receipts.map((r) => jcsBytes(r)), hash);
}
