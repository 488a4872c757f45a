import type { TxEnvelope } from '../core/tx.ts';
import type { Database, Executor } from './database.ts';
import { preparedReads } from './prepared-reads.ts';
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
  | { status: 'nonce_mismatch'; expected: number }
  /** 429: the sender already has `limit` transactions pending in this subtree. */
  | { status: 'too_many_pending'; limit: number };

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
  /** Gas of a user program's transaction once executed (SPEC §7.1). */
  gas: number | null;
}

const TX_COLUMNS = 'id, subtree, seq, sender, nonce, body, accepted_at, status, height, idx, code, gas';
/** Rows per multi-row INSERT (8 values each) and keys per IN list. */
const ROW_CHUNK = 250;
const KEY_CHUNK = 500;

/**
 * Rows of a read: through the cached prepared statements (prepared-reads.ts) when `ex` is the
 * plain read path and the database has them, else through `ex`. Rows index by column position.
 */
async function readRows(db: Database, ex: Executor, sql: string, args: (string | number)[]): Promise<ArrayLike<unknown>[]> {
  const fast = ex === db.read ? preparedReads(db) : undefined;
  return fast ? fast.all(sql, args) : (await ex.execute({ sql, args })).rows;
}

function txFromRow(r: ArrayLike<unknown>): TxRecord {
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
    gas: r[11] === null || r[11] === undefined ? null : num(r[11]),
  };
}

export async function getTx(db: Database, id: string): Promise<TxRecord | undefined> {
  const [row] = await readRows(db, db.read, `SELECT ${TX_COLUMNS} FROM txs WHERE id = ?`, [id]);
  return row ? txFromRow(row) : undefined;
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
  const rows = await readRows(db, db.read, "SELECT DISTINCT subtree FROM txs WHERE status = 'pending' AND subtree > ? ORDER BY subtree LIMIT ?", [
    after,
    limit,
  ]);
  return rows.map((r) => String(r[0]));
}

/** The next pending transactions of a subtree in log order: what the next round executes. */
export async function pendingTxs(db: Database, subtree: string, limit: number, ex: Executor = db.read): Promise<TxRecord[]> {
  const rows = await readRows(db, ex, `SELECT ${TX_COLUMNS} FROM txs WHERE subtree = ? AND status = 'pending' ORDER BY seq LIMIT ?`, [subtree, limit]);
  return rows.map(txFromRow);
}

/**
 * Pending transactions of a subtree after log position `afterSeq`, oldest first, as (seq, tx):
 * what admission counts as in flight. Reads the partial index of pending rows.
 */
export async function pendingAfter(db: Database, subtree: string, afterSeq: number): Promise<{ seq: number; envelope: TxEnvelope }[]> {
  const rows = await readRows(db, db.read, "SELECT seq, body FROM txs WHERE subtree = ? AND status = 'pending' AND seq > ? ORDER BY seq", [subtree, afterSeq]);
  return rows.map((r) => ({ seq: num(r[0]), envelope: JSON.parse(String(r[1])) as TxEnvelope }));
}

/**
 * Decides and appends one group of transactions inside the caller's write transaction. The
 * statement count grows only with the number of chunks, not items: subtree heads and the senders'
 * last nonces are read with IN lists, rows are written with multi-row INSERTs. Items are decided
 * in order, each seeing the effect of earlier ones in the group.
 *
 * Known ids are looked up only where one can exist: a stored transaction holds its
 * (subtree, sender, nonce), so a known id always has a nonce below the sender's next one (or sits
 * in a halted subtree). An item carrying the next nonce is new, and the common path reads no ids.
 * With `nonces`, senders' next nonces come from memory while the subtree's log size shows that
 * nothing was appended since they were read (see NonceCache); the caller commits or drops the
 * staged update after its transaction.
 */
export async function appendGroup(
  ex: Executor,
  items: readonly AcceptItem[],
  time: number,
  nonces?: NonceCache,
  maxPending = 0,
  /** Filled with the heads (height, root) of the group's subtrees as this transaction read them. */
  seen?: Map<string, SubtreeRoot>,
): Promise<AcceptResult[]> {
  const heads = await subtreeHeads(ex, items);
  if (seen) for (const [id, h] of heads) seen.set(id, { height: h.height, root: h.root });
  const active = items.filter((it) => heads.get(it.subtree)?.status === 'active');
  const nextNonce = await nextNonces(ex, active, heads, nonces);
  const pendingAt = maxPending > 0 ? await pendingProbes(ex, active, maxPending) : new Set<string>();
  /** Per sender, the first nonce appended in this group: those are pending too. */
  const firstInGroup = new Map<string, number>();

  // Only these can be stored already; everything else is decided without reading ids.
  const maybeKnown = items.filter((it) => {
    const head = heads.get(it.subtree);
    if (!head) return false; // txs reference their subtree: none can exist for an unknown one
    if (head.status !== 'active') return true;
    return it.nonce < (nextNonce.get(senderKey(it.subtree, it.sender)) ?? 0);
  });
  const known = maybeKnown.length > 0 ? await knownIds(ex, maybeKnown) : new Map<string, Acceptance>();

  const results: AcceptResult[] = [];
  const rows: (string | number)[][] = [];
  for (const it of items) {
    const head = heads.get(it.subtree);
    if (!head) {
      results.push({ status: 'unknown_subtree' });
      continue;
    }
    const key = senderKey(it.subtree, it.sender);
    const expected = nextNonce.get(key) ?? 0;
    if (head.status !== 'active' || it.nonce !== expected) {
      const seen = known.get(it.id);
      if (seen) results.push({ status: 'known', accept: seen });
      else if (head.status !== 'active') results.push({ status: 'halted' });
      else results.push({ status: 'nonce_mismatch', expected });
      continue;
    }
    if (maxPending > 0 && it.nonce >= maxPending) {
      // Nonces and log order agree per sender and rounds execute in log order, so the sender has
      // `maxPending` transactions pending exactly when the one `maxPending` nonces back still is.
      const back = it.nonce - maxPending;
      if (pendingAt.has(probeKey(it.subtree, it.sender, back)) || back >= (firstInGroup.get(key) ?? Infinity)) {
        results.push({ status: 'too_many_pending', limit: maxPending });
        continue;
      }
    }
    if (!firstInGroup.has(key)) firstInGroup.set(key, it.nonce);
    const accept: Acceptance = { subtree: it.subtree, seq: head.logSize++, time };
    nextNonce.set(key, expected + 1);
    known.set(it.id, accept); // a repeat later in this group is known
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
  nonces?.stage(heads, nextNonce);
  return results;
}

function senderKey(subtree: string, sender: string): string {
  return `${subtree}\n${sender}`;
}

function probeKey(subtree: string, sender: string, nonce: number): string {
  return `${subtree}\n${sender}\n${nonce}`;
}

/**
 * Which of the transactions `limit` nonces before each item are still pending: one indexed
 * point read each (txs_subtree_sender_nonce), only for senders with at least `limit` accepted.
 */
async function pendingProbes(ex: Executor, items: readonly AcceptItem[], limit: number): Promise<Set<string>> {
  const probes = items.filter((it) => it.nonce >= limit).map((it) => [it.subtree, it.sender, it.nonce - limit] as const);
  const out = new Set<string>();
  for (const part of chunks(probes, KEY_CHUNK / 2)) {
    const rs = await ex.execute({
      sql: `SELECT subtree, sender, nonce FROM txs WHERE (subtree, sender, nonce) IN (VALUES ${valueRows(part.length, 3)}) AND status = 'pending'`,
      args: part.flat(),
    });
    for (const r of rs.rows) out.add(probeKey(String(r[0]), String(r[1]), num(r[2])));
  }
  return out;
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

/**
 * Next nonces per (subtree, sender) as of the last committed group of this process, each
 * subtree's set tagged with the log size it is true for. Only `appendGroup` appends to a log and
 * every append raises `subtrees.log_size` in the same transaction, so when the head read inside
 * the next write transaction still shows that size, no process appended in between and the
 * remembered nonces are exact; any other size drops the subtree's set. Updates are staged inside
 * the transaction and take effect only after its COMMIT (`commitStaged`).
 */
export class NonceCache {
  private readonly bySubtree = new Map<string, { logSize: number; next: Map<string, number> }>();
  private staged: { subtree: string; logSizeBefore: number; logSize: number; next: Map<string, number> }[] | null = null;
  private senders = 0;

  constructor(private readonly maxSenders = 200_000) {}

  /** The remembered next nonces of `subtree`, if its log is still `logSize` long. */
  valid(subtree: string, logSize: number): Map<string, number> | undefined {
    const e = this.bySubtree.get(subtree);
    return e && e.logSize === logSize ? e.next : undefined;
  }

  /** Records what this transaction decided: per active subtree, its new log size and senders' next nonces. */
  stage(heads: ReadonlyMap<string, Head>, next: ReadonlyMap<string, number>): void {
    const bySubtree = new Map<string, Map<string, number>>();
    for (const [key, n] of next) {
      const cut = key.indexOf('\n');
      const subtree = key.slice(0, cut);
      let m = bySubtree.get(subtree);
      if (!m) bySubtree.set(subtree, (m = new Map()));
      m.set(key.slice(cut + 1), n);
    }
    this.staged = [];
    for (const [subtree, m] of bySubtree) {
      const head = heads.get(subtree);
      if (head?.status === 'active') this.staged.push({ subtree, logSizeBefore: head.logSizeBefore, logSize: head.logSize, next: m });
    }
  }

  /** After COMMIT: the staged sets become the remembered ones. */
  commitStaged(): void {
    for (const s of this.staged ?? []) {
      const before = this.bySubtree.get(s.subtree);
      const merged = before && before.logSize === s.logSizeBefore ? before.next : new Map<string, number>();
      this.senders -= before?.next.size ?? 0;
      for (const [sender, n] of s.next) merged.set(sender, n);
      this.bySubtree.set(s.subtree, { logSize: s.logSize, next: merged });
      this.senders += merged.size;
    }
    this.staged = null;
    if (this.senders > this.maxSenders) this.clear();
  }

  /** The transaction failed: nothing it staged happened. */
  dropStaged(): void {
    this.staged = null;
  }

  clear(): void {
    this.bySubtree.clear();
    this.senders = 0;
  }
}

/** A subtree's latest final round: its height and state root. */
export interface SubtreeRoot {
  height: number;
  root: string;
}

interface Head extends SubtreeRoot {
  status: string;
  logSize: number;
  logSizeBefore: number;
}

async function subtreeHeads(ex: Executor, items: readonly AcceptItem[]): Promise<Map<string, Head>> {
  const out = new Map<string, Head>();
  const ids = [...new Set(items.map((i) => i.subtree))];
  for (const part of chunks(ids, KEY_CHUNK)) {
    const rs = await ex.execute({
      sql: `SELECT id, status, log_size, height, root FROM subtrees WHERE id IN (${params(part.length)})`,
      args: part,
    });
    for (const r of rs.rows) {
      out.set(String(r[0]), { status: String(r[1]), logSize: num(r[2]), logSizeBefore: num(r[2]), height: num(r[3]), root: String(r[4]) });
    }
  }
  return out;
}

/**
 * Next expected nonce per (subtree, sender): last accepted + 1, read from the unique index, or from
 * `cache` for subtrees whose log has not moved since it was filled.
 */
async function nextNonces(
  ex: Executor,
  items: readonly AcceptItem[],
  heads: ReadonlyMap<string, Head>,
  cache: NonceCache | undefined,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const pairs = new Map<string, [string, string]>();
  for (const it of items) {
    const key = senderKey(it.subtree, it.sender);
    if (out.has(key) || pairs.has(key)) continue;
    const remembered = cache?.valid(it.subtree, heads.get(it.subtree)!.logSizeBefore)?.get(it.sender);
    if (remembered !== undefined) out.set(key, remembered);
    else pairs.set(key, [it.subtree, it.sender]);
  }
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
