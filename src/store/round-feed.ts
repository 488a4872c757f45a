import type { Database } from './database.ts';
import { num } from './sql.ts';

/**
 * The node-wide feed of final rounds, read from the outbox (`events`): every final round writes a
 * `round.finalized` row in its own commit and every subtree a `subtree.created` row with its
 * genesis round, so the outbox order is the order in which rounds became final on this node, for
 * every process sharing the database.
 */
export interface FeedEntry {
  seq: number;
  subtree: string;
  height: number;
}

const KINDS = "type IN ('round.finalized', 'subtree.created')";

/** Final rounds committed after outbox position `after`, with height ≥ `minHeight`, in commit order. */
export async function roundFeed(db: Database, opts: { after: number; minHeight?: number; limit: number }): Promise<FeedEntry[]> {
  const rs = await db.read.execute({
    sql: `SELECT seq, subtree, coalesce(json_extract(data, '$.height'), 0) FROM events
          WHERE seq > ? AND ${KINDS} AND subtree IS NOT NULL AND coalesce(json_extract(data, '$.height'), 0) >= ?
          ORDER BY seq LIMIT ?`,
    args: [opts.after, opts.minHeight ?? 0, opts.limit],
  });
  return rs.rows.map((r) => ({ seq: num(r[0]), subtree: String(r[1]), height: num(r[2]) }));
}

/** The outbox position of round `height` of `subtree`, if this node recorded it becoming final. */
export async function roundFeedPosition(db: Database, subtree: string, height: number): Promise<number | undefined> {
  const rs = await db.read.execute({
    sql: `SELECT seq FROM events WHERE subtree = ? AND ${KINDS} AND coalesce(json_extract(data, '$.height'), 0) = ? ORDER BY seq LIMIT 1`,
    args: [subtree, height],
  });
  return rs.rows[0] ? num(rs.rows[0][0]) : undefined;
}

/** The latest outbox position (0 when empty): a stream with no start point begins after it. */
export async function feedHead(db: Database): Promise<number> {
  const rs = await db.read.execute('SELECT coalesce(max(seq), 0) FROM events');
  return num(rs.rows[0]![0]);
}
