import type { Row } from '@libsql/client';
import type { TxEnvelope } from '../core/tx.ts';
import type { Database, Executor } from './database.ts';
import type { TxStatus } from './schema.ts';
import { chunks, num, params, valueRows } from './sql.ts';

/**
 * Each subtree's transaction log: accepted transactions in order (`seq` 0, 1, 2, …), each waiting
 * as 'pending' until a round executes it. Appends happen in groups (see group-commit.ts).
 */

/** One transaction to append; the caller has validated its shape and verified its signature. */
export interface AcceptItem {
  /** `toHex(txId(tx))` */
  id: string;
  subtree: string;
  sender: string;
  nonce: number;
  envelope: TxEnvelope;
}

/** What the node signs in an acceptance (SPEC §6), minus `v`, `network` and `tx`. */
export interface Acceptance {
  subtree: string;
  seq: number;
  /** ms since epoch when the group holding this transaction was committed. */
  time: number;
}

export type AcceptResult =
  /** Newly appended and durable (202). */
  | ({ status: 'accepted' } & Acceptance)
  /** The id was accepted before, possibly earlier in the same group (200 with the same acceptance). */
  | { status: 'known'; accept: Acceptance }
  | { status: 'unknown_subtree' }
  | { status: 'halted' }
  /** 409: the next nonce this sender may use in this subtree. */
  | { status: 'nonce_mismatch'; expected: number };

export interface TxRecord {
  id: string;
  subtree: string;
  seq: number;
  sender: string;
  nonce: number;
  envelope: TxEnvelope;
  acceptedAt: number;
  status: TxStatus;
  /** Round that executed it, null while pending. */
  height: number | null;
  /** Position in that round. */
  idx: number | null;
  /** Failure code when status is 'failed'. */
  code: string | null;
}

const TX_COLUMNS = 'id, subtree, seq, sender, nonce, body, accepted_at, status, height, idx, code';
/** Rows per multi-row INSERT (8 values each) and keys per IN list. */
const ROW_CHUNK = 250;
const KEY_CHUNK = 500;

function txFromRow(r: Row): TxRecord {
  return {
    id: String(r[0]),
    subtree: String(r[1]),
    seq: num(r[2]),
    sender: String(r[3]),
    nonce: num(r[4]),
    envelope: JSON.parse(String(r[5])) as TxEnvelope,
    acceptedAt: num(r[6]),
    status: String(r[7]) as TxStatus,
    height: r[8] === null ? null : num(r[8]),
    idx: r[9] === null ? null : num(r[9]),
    code: r[10] === null ? null : String(r[10]),
  };
}

export async function getTx(db: Database, id: string): Promise<TxRecord | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${TX_COLUMNS} FROM txs WHERE id = ?`, args: [id] });
  return rs.rows[0] ? txFromRow(rs.rows[0]) : undefined;
}

/** The transaction at `seq` of a subtree's log. */
export async function getTxBySeq(db: Database, subtree: string, seq: number): Promise<TxRecord | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${TX_COLUMNS} FROM txs WHERE subtree = ? AND seq = ?`, args: [subtree, seq] });
  return rs.rows[0] ? txFromRow(rs.rows[0]) : undefined;
}

/**
 * Subtrees that have pending transactions, in id order, after `after` (to page through them so
 * no subtree waits behind others forever). Reads only the partial index of pending rows.
 */
export async function pendingSubtrees(db: Database, limit: number, after = ''): Promise<string[]> {
  const rs = await db.read.execute({
    sql: "SELECT DISTINCT subtree FROM txs WHERE status = 'pending' AND subtree > ? ORDER BY subtree LIMIT ?",
    args: [after, limit],
  });
  return rs.rows.map((r) => String(r[0]));
}

/** The next pending transactions of a subtree in log order: what the next round executes. */
export async function pendingTxs(db: Database, subtree: string, limit: number, ex: Executor = db.read): Promise<TxRecord[]> {
  const rs = await ex.execute({
    sql: `SELECT ${TX_COLUMNS} FROM txs WHERE subtree = ? AND status = 'pending' ORDER BY seq LIMIT ?`,
    args: [subtree, limit],
  });
  return rs.rows.map(txFromRow);
}

/** Transactions of one round, in execution order. */
export async function roundTxs(db: Database, subtree: string, height: number): Promise<TxRecord[]> {
  const rs = await db.read.execute({
    sql: `SELECT ${TX_COLUMNS} FROM txs WHERE subtree = ? AND height = ? ORDER BY idx`,
    args: [subtree, height],
  });
  return rs.rows.map(txFromRow);
}

/**
 * Decides and appends one group of transactions inside the caller's write transaction. The
 * statement count grows only with the number of chunks, not items: known ids, subtree heads and
 * the senders' last nonces are read with IN lists, rows are written with multi-row INSERTs.
 * Items are decided in order, each seeing the effect of earlier ones in the group.
 */
export async function appendGroup(ex: Executor, items: readonly AcceptItem[], time: number): Promise<AcceptResult[]> {
  const known = await knownIds(ex, items);
  const open = items.filter((it) => !known.has(it.id));
  const heads = await subtreeHeads(ex, open);
  const nextNonce = await nextNonces(
    ex,
    open.filter((it) => heads.get(it.subtree)?.status === 'active'),
  );

  const results: AcceptResult[] = [];
  const rows: (string | number)[][] = [];
  for (const it of items) {
    const seen = known.get(it.id);
    if (seen) {
      results.push({ status: 'known', accept: seen });
      continue;
    }
    const head = heads.get(it.subtree);
    if (!head) {
      results.push({ status: 'unknown_subtree' });
      continue;
    }
    if (head.status !== 'active') {
      results.push({ status: 'halted' });
      continue;
    }
    const key = senderKey(it.subtree, it.sender);
    const expected = nextNonce.get(key) ?? 0;
    if (it.nonce !== expected) {
      results.push({ status: 'nonce_mismatch', expected });
      continue;
    }
    const accept: Acceptance = { subtree: it.subtree, seq: head.logSize++, time };
    nextNonce.set(key, expected + 1);
    known.set(it.id, accept);
    rows.push([it.id, it.subtree, accept.seq, it.sender, it.nonce, JSON.stringify(it.envelope), time, 'pending']);
    results.push({ status: 'accepted', ...accept });
  }

  for (const part of chunks(rows, ROW_CHUNK)) {
    await ex.execute({
      sql: `INSERT INTO txs (id, subtree, seq, sender, nonce, body, accepted_at, status) VALUES ${valueRows(part.length, 8)}`,
      args: part.flat(),
    });
  }
  const grown = [...heads].filter(([, h]) => h.logSize !== h.logSizeBefore);
  for (const part of chunks(grown, KEY_CHUNK)) {
    await ex.execute({
      sql: `WITH k(id, size) AS (VALUES ${valueRows(part.length, 2)})
            UPDATE subtrees SET log_size = k.size FROM k WHERE subtrees.id = k.id`,
      args: part.flatMap(([id, h]) => [id, h.logSize]),
    });
  }
  return results;
}

function senderKey(subtree: string, sender: string): string {
  return `${subtree}\n${sender}`;
}

async function knownIds(ex: Executor, items: readonly AcceptItem[]): Promise<Map<string, Acceptance>> {
  const out = new Map<string, Acceptance>();
  const ids = [...new Set(items.map((i) => i.id))];
  for (const part of chunks(ids, KEY_CHUNK)) {
    const rs = await ex.execute({
      sql: `SELECT id, subtree, seq, accepted_at FROM txs WHERE id IN (${params(part.length)})`,
      args: part,
    });
    for (const r of rs.rows) out.set(String(r[0]), { subtree: String(r[1]), seq: num(r[2]), time: num(r[3]) });
  }
  return out;
}

interface Head {
  status: string;
  logSize: number;
  logSizeBefore: number;
}

async function subtreeHeads(ex: Executor, items: readonly AcceptItem[]): Promise<Map<string, Head>> {
  const out = new Map<string, Head>();
  const ids = [...new Set(items.map((i) => i.subtree))];
  for (const part of chunks(ids, KEY_CHUNK)) {
    const rs = await ex.execute({
      sql: `SELECT id, status, log_size FROM subtrees WHERE id IN (${params(part.length)})`,
      args: part,
    });
    for (const r of rs.rows) out.set(String(r[0]), { status: String(r[1]), logSize: num(r[2]), logSizeBefore: num(r[2]) });
  }
  return out;
}

/** Next expected nonce per (subtree, sender): last accepted + 1, read from the unique index. */
async function nextNonces(ex: Executor, items: readonly AcceptItem[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const pairs = new Map<string, [string, string]>();
  for (const it of items) pairs.set(senderKey(it.subtree, it.sender), [it.subtree, it.sender]);
  for (const part of chunks([...pairs.values()], KEY_CHUNK)) {
    // A correlated max() per pair is an index seek on txs_subtree_sender_nonce.
    const rs = await ex.execute({
      sql: `WITH k(subtree, sender) AS (VALUES ${valueRows(part.length, 2)})
            SELECT k.subtree, k.sender,
                   (SELECT max(nonce) FROM txs WHERE txs.subtree = k.subtree AND txs.sender = k.sender)
            FROM k`,
      args: part.flat(),
    });
    for (const r of rs.rows) out.set(senderKey(String(r[0]), String(r[1])), r[2] === null ? 0 : num(r[2]) + 1);
  }
  return out;
}
