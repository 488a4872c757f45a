import { asc, eq, gt, ne } from 'drizzle-orm';
import type { JsonValue } from '../core/jcs.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { Database, Executor } from './database.ts';
import { StaleRoundError } from './errors.ts';
import { insertEvents, type NewEvent } from './events.ts';
import { assertLease, type LeaseClaim } from './lease.ts';
import { NO_NEW_NODES, type NewNodes } from '../core/smt/node-store.ts';
import { assertHead, insertFinalRound, type RoundReceipt } from './rounds.ts';
import { follows, subtrees, type FollowStatus, type FollowVerify, type RoundSignature } from './schema.ts';
import { genesisOf, type GenesisRound, type NewSubtree } from './subtrees.ts';

/**
 * Followed subtrees (SPEC §12). The replica is kept in the ordinary tables, so every read route
 * serves it as it serves the node's own subtrees; what only following needs is in `follows`.
 * Each verified round is written in ONE transaction behind the leader lease (sync loops run only
 * on the lease holder), guarded by the replica's head: a round is never applied twice.
 */

export type Follow = typeof follows.$inferSelect;

export interface FollowHalt {
  code: string;
  detail: string;
  evidence: JsonValue;
}

export async function getFollow(db: Database, subtree: string): Promise<Follow | undefined> {
  const rows = await db.orm.select().from(follows).where(eq(follows.subtree, subtree));
  return rows[0];
}

export async function listFollows(db: Database, opts: { cursor?: string; limit: number }): Promise<{ items: Follow[]; next: string | null }> {
  const items = await db.orm
    .select()
    .from(follows)
    .where(opts.cursor !== undefined ? gt(follows.subtree, opts.cursor) : undefined)
    .orderBy(asc(follows.subtree))
    .limit(opts.limit + 1);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.subtree : null };
}

export interface NewFollow {
  subtree: string;
  origin: string;
  verify: FollowVerify;
  originKey: string;
  originHeight: number;
  now: number;
}

/**
 * Starts a follow whose creation request verified: the follow row, the subtree row marked with its
 * origin, round 0 with the origin's signatures, and the genesis state — in one transaction. Returns
 * false (writing nothing) when the subtree already exists here or is already followed.
 */
export async function startFollow(
  db: Database,
  input: NewFollow & { row: NewSubtree; genesisRound: GenesisRound; nodes: NewNodes; values: readonly StoredValue[]; events: readonly NewEvent[] },
): Promise<boolean> {
  return db.write(async (tx) => {
    const orm = db.ormFor(tx);
    const known = await tx.execute({ sql: 'SELECT 1 FROM subtrees WHERE id = ? UNION ALL SELECT 1 FROM follows WHERE subtree = ?', args: [input.subtree, input.subtree] });
    if (known.rows.length > 0) return false;
    await orm.insert(follows).values(followRow(input, 'syncing', null));
    const g = input.genesisRound;
    await orm.insert(subtrees).values({ ...input.row, status: 'active', height: 0, root: g.stateRoot, headHash: g.hash, logSize: 0, origin: input.origin, verify: input.verify });
    await insertFinalRound(db, tx, { ...genesisOf(input.subtree, g), nodes: input.nodes, values: input.values, createdAt: input.now });
    await insertEvents(tx, input.events, input.now);
    return true;
  });
}

/** A follow refused at its first step (its creation request does not verify): the row and the halt only, no replica. */
export async function startHaltedFollow(db: Database, input: NewFollow & { halt: FollowHalt }): Promise<boolean> {
  return db.write(async (tx) => {
    const known = await tx.execute({ sql: 'SELECT 1 FROM subtrees WHERE id = ? UNION ALL SELECT 1 FROM follows WHERE subtree = ?', args: [input.subtree, input.subtree] });
    if (known.rows.length > 0) return false;
    await db.ormFor(tx).insert(follows).values(followRow(input, 'halted', input.halt));
    const { code, detail } = input.halt;
    await insertEvents(tx, [{ type: 'follow.halted', subtree: input.subtree, data: { subtree: input.subtree, origin: input.origin, height: 0, code, detail } }], input.now);
    return true;
  });
}

function followRow(input: NewFollow, status: FollowStatus, halt: FollowHalt | null) {
  return {
    subtree: input.subtree,
    origin: input.origin,
    verify: input.verify,
    status,
    originKey: input.originKey,
    originHeight: input.originHeight,
    verifiedFrom: 0,
    halt: halt as unknown as JsonValue,
    createdAt: input.now,
    updatedAt: input.now,
  };
}

/** A transaction of a verified round, as the replica's log keeps it. */
export interface FollowedTx {
  id: string;
  seq: number;
  sender: string;
  nonce: number;
  /** `{tx, sig}` as the origin's log served it (JSON text). */
  body: string;
}

export interface ApplyFollowedRound {
  subtree: string;
  height: number;
  hash: string;
  header: JsonValue;
  signatures: RoundSignature[];
  txs: readonly FollowedTx[];
  receipts: readonly RoundReceipt[];
  stateRoot: string;
  /** Log size after the round (the next seq). */
  logSize: number;
  nodes: NewNodes;
  values: readonly StoredValue[];
  events: readonly NewEvent[];
  originHeight: number;
  status: FollowStatus;
  lease: LeaseClaim;
  now: number;
}

/**
 * Appends one verified round to the replica: its transactions (already executed, with their
 * outcomes), tree nodes, values, the round with the origin's signatures, the head and the outbox
 * events — behind the lease, and only if the replica is at `height - 1` (StaleRoundError otherwise).
 */
export async function applyFollowedRound(db: Database, input: ApplyFollowedRound): Promise<void> {
  await db.write(async (tx) => {
    const was = await liveFollow(tx, input.subtree, input.height, input.lease, input.now);
    // One statement for the whole log of the round: its rows travel as one JSON array parameter
    // (a multi-row VALUES costs a prepare of a long statement and a bind per value, per chunk).
    const rows = input.txs.map((t, i) => {
      const r = input.receipts[i]!;
      return [t.id, t.seq, t.sender, t.nonce, t.body, r.status === 'ok' ? 'executed' : 'failed', r.index, r.code ?? null];
    });
    if (rows.length > 0) {
      await tx.execute({
        sql: `INSERT INTO txs (id, subtree, seq, sender, nonce, body, accepted_at, status, height, idx, code)
              SELECT j.value ->> 0, ?, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, ?, j.value ->> 5, ?, j.value ->> 6, j.value ->> 7
              FROM json_each(?) j`,
        args: [input.subtree, input.now, input.height, JSON.stringify(rows)],
      });
    }
    await insertFinalRound(db, tx, { ...input, txIds: input.txs.map((t) => t.id), createdAt: input.now });
    await advanceFollow(tx, was, {
      subtree: input.subtree,
      from: input.height,
      head: { height: input.height, stateRoot: input.stateRoot, hash: input.hash },
      logSize: input.logSize,
      originHeight: input.originHeight,
      status: input.status,
      events: input.events,
      now: input.now,
    });
  });
}

/** A round a light follow verified: the header, the origin's signatures and the ids it lists. */
export interface HeaderRound {
  height: number;
  hash: string;
  header: JsonValue;
  signatures: RoundSignature[];
  txIds: string[];
  stateRoot: string;
  events: readonly NewEvent[];
}

/**
 * Appends verified rounds of a light (`headers`) follow: the rounds and the head (its log size is
 * the count of transactions the rounds list), no log, tree nodes or values — many rounds in ONE
 * transaction behind the lease, only if the head is still at the first round's height − 1.
 */
export async function applyHeaderRounds(
  db: Database,
  input: { subtree: string; rounds: readonly HeaderRound[]; logSize: number; originHeight: number; status: FollowStatus; lease: LeaseClaim; now: number },
): Promise<void> {
  const first = input.rounds[0];
  const last = input.rounds.at(-1);
  if (!first || !last) return;
  await db.write(async (tx) => {
    const was = await liveFollow(tx, input.subtree, first.height, input.lease, input.now);
    for (const r of input.rounds) {
      await insertFinalRound(db, tx, { subtree: input.subtree, height: r.height, hash: r.hash, header: r.header, signatures: r.signatures, txIds: r.txIds, stateRoot: r.stateRoot, nodes: NO_NEW_NODES, values: [], createdAt: input.now });
    }
    await advanceFollow(tx, was, {
      subtree: input.subtree,
      from: first.height,
      head: last,
      logSize: input.logSize,
      originHeight: input.originHeight,
      status: input.status,
      events: input.rounds.flatMap((r) => r.events),
      now: input.now,
    });
  });
}

/** Records the origin's height and the follow's status (and a halt, which is kept until the follow is dropped). */
export async function updateFollow(db: Database, subtree: string, set: { status: FollowStatus; originHeight: number; halt?: FollowHalt; now: number }): Promise<void> {
  await db.write(async (tx) => {
    const before = await tx.execute({ sql: 'SELECT status, origin FROM follows WHERE subtree = ?', args: [subtree] });
    const was = before.rows[0];
    if (!was || String(was[0]) === 'halted') return; // a halt is kept until the follow is dropped
    await tx.execute({
      sql: 'UPDATE follows SET status = ?, origin_height = max(origin_height, ?), halt = ?, updated_at = ? WHERE subtree = ?',
      args: [set.status, set.originHeight, set.halt ? JSON.stringify(set.halt) : null, set.now, subtree],
    });
    // Webhook events (outbox) for the transitions an operator cares about.
    const origin = String(was[1]);
    const height = await tx.execute({ sql: 'SELECT height FROM subtrees WHERE id = ?', args: [subtree] });
    const h = height.rows[0] ? Number(height.rows[0][0]) : 0;
    if (set.status === 'halted' && set.halt) {
      await insertEvents(tx, [{ type: 'follow.halted', subtree, data: { subtree, origin, height: h, code: set.halt.code, detail: set.halt.detail } }], set.now);
    } else if (set.status === 'following' && String(was[0]) !== 'following') {
      await insertEvents(tx, [{ type: 'follow.synced', subtree, data: { subtree, origin, height: h } }], set.now);
    }
  });
}

/** Stops following and drops the replica's rows (tree nodes and values are shared and content-addressed: they stay). */
export async function dropFollow(db: Database, subtree: string): Promise<boolean> {
  return db.write(async (tx) => {
    const gone = await tx.execute({ sql: 'DELETE FROM follows WHERE subtree = ?', args: [subtree] });
    if (gone.rowsAffected === 0) return false;
    await tx.execute({ sql: 'DELETE FROM txs WHERE subtree = ?', args: [subtree] });
    await tx.execute({ sql: 'DELETE FROM rounds WHERE subtree = ?', args: [subtree] });
    await tx.execute({ sql: 'DELETE FROM subtrees WHERE id = ? AND origin IS NOT NULL', args: [subtree] });
    return true;
  });
}

/** Follows that are not halted, in subtree order: the sync loop's work. */
export async function liveFollows(db: Database): Promise<Follow[]> {
  const rows = await db.orm.select().from(follows).where(ne(follows.status, 'halted')).orderBy(asc(follows.subtree));
  return rows;
}

/** How many follows are in each status (for /v1/info). */
export async function followCounts(db: Database): Promise<{ syncing: number; following: number; halted: number }> {
  const rs = await db.read.execute('SELECT status, count(*) FROM follows GROUP BY status');
  const out = { syncing: 0, following: 0, halted: 0 };
  for (const r of rs.rows) {
    const k = String(r[0]) as keyof typeof out;
    if (k in out) out[k] = Number(r[1]);
  }
  return out;
}

/** Behind the lease, with the head at `height - 1`: the follow's row (status, origin), unless it was dropped or halted. */
async function liveFollow(tx: Executor, subtree: string, height: number, lease: LeaseClaim, now: number): Promise<[unknown, unknown]> {
  await assertLease(tx, lease, now);
  await assertHead(tx, subtree, height);
  const live = await tx.execute({ sql: "SELECT status, origin FROM follows WHERE subtree = ? AND status <> 'halted'", args: [subtree] });
  const was = live.rows[0];
  if (!was) throw new StaleRoundError(`subtree ${subtree} is not followed (or its follow halted)`);
  return [was[0], was[1]];
}

/**
 * Moves a replica's head from `from - 1` to `head` (StaleRoundError if it moved meanwhile), records
 * the follow's status and the origin's height, and writes the rounds' events plus `follow.synced`
 * when the follow has just caught up.
 */
async function advanceFollow(
  tx: Executor,
  was: [unknown, unknown],
  input: {
    subtree: string;
    from: number;
    head: { height: number; stateRoot: string; hash: string };
    logSize: number;
    originHeight: number;
    status: FollowStatus;
    events: readonly NewEvent[];
    now: number;
  },
): Promise<void> {
  const moved = await tx.execute({
    sql: 'UPDATE subtrees SET height = ?, root = ?, head_hash = ?, log_size = ? WHERE id = ? AND height = ?',
    args: [input.head.height, input.head.stateRoot, input.head.hash, input.logSize, input.subtree, input.from - 1],
  });
  if (moved.rowsAffected !== 1) throw new StaleRoundError(`subtree ${input.subtree} head moved during commit`);
  await tx.execute({
    sql: 'UPDATE follows SET status = ?, origin_height = max(origin_height, ?), updated_at = ? WHERE subtree = ?',
    args: [input.status, input.originHeight, input.now, input.subtree],
  });
  const synced: NewEvent[] =
    input.status === 'following' && String(was[0]) !== 'following'
      ? [{ type: 'follow.synced', subtree: input.subtree, data: { subtree: input.subtree, origin: String(was[1]), height: input.head.height } }]
      : [];
  await insertEvents(tx, [...input.events, ...synced], input.now);
}
