import type { JsonValue } from '../core/jcs.ts';
import type { Database, Executor } from './database.ts';
import { chunks, num, valueRows } from './sql.ts';

/** An outbox row to write together with the change it reports (tx.executed, round.finalized, …). */
export interface NewEvent {
  type: string;
  subtree?: string | null;
  data: JsonValue;
}

export interface StoredEvent {
  seq: number;
  type: string;
  subtree: string | null;
  data: JsonValue;
  createdAt: number;
}

const EVENT_CHUNK = 200;

/** Inserts events in the caller's transaction; `seq` numbers follow insertion order. */
export async function insertEvents(ex: Executor, events: readonly NewEvent[], createdAt: number): Promise<void> {
  for (const part of chunks(events, EVENT_CHUNK)) {
    await ex.execute({
      sql: `INSERT INTO events (type, subtree, data, created_at) VALUES ${valueRows(part.length, 4)}`,
      args: part.flatMap((e) => [e.type, e.subtree ?? null, JSON.stringify(e.data), createdAt]),
    });
  }
}

/** Events after `after` (exclusive) in seq order: the outbox drain's page. */
export async function listEvents(db: Database, opts: { after?: number; limit: number }): Promise<StoredEvent[]> {
  const rs = await db.read.execute({
    sql: 'SELECT seq, type, subtree, data, created_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
    args: [opts.after ?? 0, opts.limit],
  });
  return rs.rows.map((r) => ({
    seq: num(r[0]),
    type: String(r[1]),
    subtree: r[2] === null ? null : String(r[2]),
    data: JSON.parse(String(r[3])) as JsonValue,
    createdAt: num(r[4]),
  }));
}
