import type { TxEnvelope } from '../core/tx.ts';
import type { Database } from './database.ts';
import { num } from './sql.ts';

/** One entry of a subtree's log as replicas read it: position, id, the transaction as received, outcome. */
export interface LogEntry {
  seq: number;
  id: string;
  status: string;
  envelope: TxEnvelope;
}

/**
 * Transactions `from, from+1, …` of a subtree's log (at most `limit`), in seq order: what a
 * co-signer or auditor replays, one indexed range scan instead of a request per transaction.
 */
export async function logRange(db: Database, subtree: string, from: number, limit: number): Promise<LogEntry[]> {
  const rs = await db.read.execute({
    sql: 'SELECT seq, id, status, body FROM txs WHERE subtree = ? AND seq >= ? ORDER BY seq LIMIT ?',
    args: [subtree, from, limit],
  });
  return rs.rows.map((r) => ({ seq: num(r[0]), id: String(r[1]), status: String(r[2]), envelope: JSON.parse(String(r[3])) as TxEnvelope }));
}
