import type { Receipt } from '../core/receipt.ts';
import type { RoundHeader } from '../core/round.ts';
import type { NewEvent } from '../store/index.ts';

/** The outbox rows a final round writes with itself: one per transaction, then the round. */
export function roundEvents(header: RoundHeader, hash: string, receipts: readonly Receipt[]): NewEvent[] {
  const subtree = header.subtree;
  const events: NewEvent[] = receipts.map((r) => ({
    type: r.status === 'ok' ? 'tx.executed' : 'tx.failed',
    subtree,
    data: { subtree, tx: r.tx, height: header.height, index: r.index, ...(r.status === 'failed' ? { code: r.code } : {}) },
  }));
  events.push({
    type: 'round.finalized',
    subtree,
    data: { subtree, height: header.height, hash, stateRoot: header.stateRoot, txCount: header.txCount },
  });
  return events;
}
