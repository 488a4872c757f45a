import { and, asc, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { JsonValue } from '../core/jcs.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { Database, Executor } from './database.ts';
import { StaleRoundError, StoreError, TxLogMismatchError } from './errors.ts';
import { insertEvents, type NewEvent } from './events.ts';
import { assertLease, type LeaseClaim } from './lease.ts';
import type { NewNodes } from '../core/smt/node-store.ts';
import { insertNodes, insertValues } from './node-store.ts';
import { preparedReads } from './prepared-reads.ts';
import { rounds, subtrees, type RoundSignature } from './schema.ts';
import { chunks, num, valueRows } from './sql.ts';
import { tableRows } from './table-rows.ts';
import type { Page } from './subtrees.ts';

export type Round = typeof rounds.$inferSelect;

/** SPEC §8 receipt, in execution order. */
export interface RoundReceipt {
  tx: string;
  index: number;
  status: 'ok' | 'failed';
  code?: string;
  /** User programs only (SPEC §7.1). */
  gas?: number;
}

export interface CommitRoundInput {
  subtree: string;
  height: number;
  hash: string;
  header: JsonValue;
  signatures: RoundSignature[];
  /** Executed transactions in order: must be exactly the next pending ones of the subtree's log. */
  txIds: string[];
  receipts: RoundReceipt[];
  stateRoot: string;
  nodes: NewNodes;
  values: readonly StoredValue[];
  events: readonly NewEvent[];
  /** The lease this leader holds; checked inside the commit (fencing). */
  lease: LeaseClaim;
  /** Leader's clock (ms): lease expiry is judged against it; also the rows' created_at. */
  now: number;
}

const UPDATE_CHUNK = 200;

/**
 * Commits a final round in ONE write transaction: lease check (LeaseLostError), head check
 * (StaleRoundError unless the subtree is at height - 1), log check (TxLogMismatchError unless
 * `txIds` are the next pending transactions in seq order), then tree nodes, values, the round row,
 * transaction outcomes, the subtree head and the outbox events. Any failure rolls all of it back.
 */
export async function commitRound(db: Database, input: CommitRoundInput): Promise<void> {
  await db.write(async (tx) => {
    await assertLease(tx, input.lease, input.now);
    await writeFinalRound(db, tx, input);
  });
}

/**
 * The body of a final-round commit, inside the caller's write transaction: head check, log
 * check, nodes, values, round row, tx outcomes, head, events. `commitRound` runs it behind the
 * leader's lease; finalizing a signed proposal runs it behind the proposal's own row.
 */
export async function writeFinalRound(db: Database, tx: Executor, input: Omit<CommitRoundInput, 'lease'>): Promise<void> {
  checkReceipts(input);
  await assertHead(tx, input.subtree, input.height);
  await assertNextPending(tx, input.subtree, input.txIds);

  await insertFinalRound(db, tx, { ...input, createdAt: input.now });
  await markExecuted(tx, input.subtree, input.height, input.receipts);
  const head = await tx.execute({
    sql: 'UPDATE subtrees SET height = ?, root = ?, head_hash = ? WHERE id = ? AND height = ?',
    args: [input.height, input.stateRoot, input.hash, input.subtree, input.height - 1],
  });
  if (head.rowsAffected !== 1) throw new StaleRoundError(`subtree ${input.subtree} head moved during commit`);
  await insertEvents(tx, input.events, input.now);
}

/**
 * A final round as stored, inside the caller's transaction: the tree nodes and values it added,
 * then its row. Every path that makes a round final writes it so: the genesis round of a created
 * or followed subtree, a leader's or a finalized proposal's round, a followed subtree's round.
 */
export async function insertFinalRound(
  db: Database,
  tx: Executor,
  r: {
    subtree: string;
    height: number;
    hash: string;
    header: JsonValue;
    signatures: RoundSignature[];
    txIds: string[];
    stateRoot: string;
    nodes: NewNodes;
    values: readonly StoredValue[];
    createdAt: number;
  },
): Promise<void> {
  await insertNodes(tx, r.nodes);
  await insertValues(tx, r.values);
  await db.ormFor(tx).insert(rounds).values({
    subtree: r.subtree,
    height: r.height,
    hash: r.hash,
    header: r.header,
    signatures: r.signatures,
    txIds: r.txIds,
    stateRoot: r.stateRoot,
    status: 'final',
    createdAt: r.createdAt,
  });
}

function checkReceipts(input: Pick<CommitRoundInput, 'txIds' | 'receipts'>): void {
  const { txIds, receipts } = input;
  const ok =
    receipts.length === txIds.length &&
    receipts.every((r, i) => r.tx === txIds[i] && r.index === i && (r.status === 'ok') === (r.code === undefined));
  if (!ok) throw new TxLogMismatchError('receipts must name txIds in order, index = position, code only when failed');
}

export async function assertHead(ex: Executor, subtree: string, height: number): Promise<void> {
  const rs = await ex.execute({ sql: 'SELECT height FROM subtrees WHERE id = ?', args: [subtree] });
  const row = rs.rows[0];
  if (!row) throw new StoreError('unknown_subtree', `subtree ${subtree} does not exist`, { subtree });
  const current = num(row[0]);
  if (current !== height - 1) {
    throw new StaleRoundError(`subtree ${subtree} is at height ${current}; cannot commit height ${height}`, {
      subtree,
      current,
      height,
    });
  }
}

export async function assertNextPending(ex: Executor, subtree: string, txIds: readonly string[]): Promise<void> {
  if (txIds.length === 0) return;
  const rs = await ex.execute({
    sql: "SELECT id FROM txs WHERE subtree = ? AND status = 'pending' ORDER BY seq LIMIT ?",
    args: [subtree, txIds.length],
  });
  const pending = rs.rows.map((r) => String(r[0]));
  const at = txIds.findIndex((id, i) => pending[i] !== id);
  if (at !== -1) {
    throw new TxLogMismatchError(`transaction ${at} of the round is not the next pending one of the log`, {
      index: at,
      expected: pending[at] ?? null,
      got: txIds[at],
    });
  }
}

async function markExecuted(ex: Executor, subtree: string, height: number, receipts: readonly RoundReceipt[]): Promise<void> {
  let changed = 0;
  for (const part of chunks(receipts, UPDATE_CHUNK)) {
    const rs = await ex.execute({
      sql: `WITH r(id, idx, status, code, gas) AS (VALUES ${valueRows(part.length, 5)})
            UPDATE txs SET status = r.status, height = ?, idx = r.idx, code = r.code, gas = r.gas
            FROM r WHERE txs.id = r.id AND txs.subtree = ? AND txs.status = 'pending'`,
      args: [...part.flatMap((x) => [x.tx, x.index, x.status === 'ok' ? 'executed' : 'failed', x.code ?? null, x.gas ?? null]), height, subtree],
    });
    changed += rs.rowsAffected;
  }
  if (changed !== receipts.length) {
    throw new TxLogMismatchError(`updated ${changed} pending transactions, expected ${receipts.length}`);
  }
}

const roundRows = tableRows(rounds);
const ROUND_AT = `${roundRows.select} WHERE "subtree" = ? AND "height" = ?`;

export async function getRound(db: Database, subtree: string, height: number): Promise<Round | undefined> {
  const fast = preparedReads(db);
  if (fast) {
    const r = fast.get(ROUND_AT, [subtree, height]);
    return r ? roundRows.row(r) : undefined;
  }
  const rows = await db.orm
    .select()
    .from(rounds)
    .where(and(eq(rounds.subtree, subtree), eq(rounds.height, height)));
  return rows[0];
}

export async function getRoundByHash(db: Database, hash: string): Promise<Round | undefined> {
  const rows = await db.orm.select().from(rounds).where(eq(rounds.hash, hash));
  return rows[0];
}

/** Rounds of a subtree by height, keyset-paged; `cursor` is the last height of the previous page. */
export async function listRounds(
  db: Database,
  subtree: string,
  opts: { cursor?: number; limit: number; order?: 'asc' | 'desc' },
): Promise<Page<Round, number>> {
  const order = opts.order ?? 'asc';
  const where: SQL[] = [eq(rounds.subtree, subtree)];
  if (opts.cursor !== undefined) where.push(order === 'asc' ? gt(rounds.height, opts.cursor) : lt(rounds.height, opts.cursor));
  const items = await db.orm
    .select()
    .from(rounds)
    .where(and(...where))
    .orderBy(order === 'asc' ? asc(rounds.height) : desc(rounds.height))
    .limit(opts.limit + 1);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.height : null };
}

/** The state root after round `height`, if that round exists. */
export async function rootAtHeight(db: Database, subtree: string, height: number): Promise<string | undefined> {
  const rows = await db.orm
    .select({ stateRoot: rounds.stateRoot })
    .from(rounds)
    .where(and(eq(rounds.subtree, subtree), eq(rounds.height, height)));
  return rows[0]?.stateRoot;
}

/**
 * Current head of a subtree (height, root, head hash), read inside or outside a transaction.
 * Raw SQL on purpose: every state read starts here, and drizzle's mapping cost ~3x the query.
 */
export async function subtreeHead(
  db: Database,
  subtree: string,
  ex: Executor = db.read,
): Promise<{ height: number; root: string; headHash: string; logSize: number; headersOnly: boolean } | undefined> {
  const sql = 'SELECT height, root, head_hash, log_size, verify FROM subtrees WHERE id = ?';
  // Every state read starts here: the prepared statement saves most of its CPU (prepared-reads.ts).
  const fast = ex === db.read ? preparedReads(db) : undefined;
  const r = fast ? fast.get(sql, [subtree]) : (await ex.execute({ sql, args: [subtree] })).rows[0];
  return r ? { height: num(r[0]), root: String(r[1]), headHash: String(r[2]), logSize: num(r[3]), headersOnly: r[4] === 'headers' } : undefined;
}
