import type { JsonValue } from '../core/jcs.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { Database, Executor } from './database.ts';
import { insertEvents, type NewEvent } from './events.ts';
import { assertLease, type LeaseClaim } from './lease.ts';
import type { NewNodes } from '../core/smt/node-store.ts';
import { insertNodes, insertValues } from './node-store.ts';
import type { AnchorStatus } from './schema-checkpoints.ts';
import { num, toBytes, valueRows, chunks } from './sql.ts';

/**
 * Checkpoints, the global tree entries they took, and their OpenTimestamps anchors (SPEC §9).
 * A checkpoint, its entries, the global tree nodes, its anchor row and the `checkpoint.created`
 * event are committed in ONE write transaction behind the leader lease (fencing), and `seq` is the
 * primary key: two writers can never both commit the same seq.
 */

export interface CheckpointRow {
  seq: number;
  hash: string;
  body: JsonValue;
  sig: string;
  signer: string;
  globalRoot: string;
  leafHash: string;
  logRoot: string;
  note: string;
  createdAt: number;
}

export interface EntryRow {
  subtree: string;
  /** The checkpoint that recorded this entry. */
  seq: number;
  height: number;
  root: string;
  round: string;
  /** A light follow's head (SPEC §12): marked `"verify": "headers"` in the global tree. */
  verify?: 'headers';
}

/** A top-level subtree's current final head. */
export interface HeadRow {
  subtree: string;
  height: number;
  root: string;
  round: string;
  verify?: 'headers';
}

/** Another writer committed this seq first (or the log moved on): nothing was written. */
export class CheckpointRaceError extends Error {
  override readonly name = 'CheckpointRaceError';
}

const CP_COLUMNS = 'seq, hash, body, sig, signer, global_root, leaf_hash, log_root, note, created_at';

function checkpointOf(r: Record<number, unknown>): CheckpointRow {
  return {
    seq: num(r[0]),
    hash: String(r[1]),
    body: JSON.parse(String(r[2])) as JsonValue,
    sig: String(r[3]),
    signer: String(r[4]),
    globalRoot: String(r[5]),
    leafHash: String(r[6]),
    logRoot: String(r[7]),
    note: String(r[8]),
    createdAt: num(r[9]),
  };
}

export async function latestCheckpoint(db: Database, ex: Executor = db.read): Promise<CheckpointRow | undefined> {
  const rs = await ex.execute(`SELECT ${CP_COLUMNS} FROM checkpoints ORDER BY seq DESC LIMIT 1`);
  return rs.rows[0] ? checkpointOf(rs.rows[0]) : undefined;
}

export async function getCheckpoint(db: Database, seq: number): Promise<CheckpointRow | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${CP_COLUMNS} FROM checkpoints WHERE seq = ?`, args: [seq] });
  return rs.rows[0] ? checkpointOf(rs.rows[0]) : undefined;
}

/** Leaf hashes (hex) of checkpoints `from <= seq < to`, in order. */
export async function checkpointLeafHashes(db: Database, from: number, to: number): Promise<string[]> {
  const rs = await db.read.execute({ sql: 'SELECT seq, leaf_hash FROM checkpoints WHERE seq >= ? AND seq < ? ORDER BY seq', args: [from, to] });
  const out = rs.rows.map((r) => String(r[1]));
  rs.rows.forEach((r, i) => {
    if (num(r[0]) !== from + i) throw new Error(`checkpoint log has a gap at seq ${from + i}`);
  });
  return out;
}

/**
 * Top-level subtrees (children of `rootId`) whose final head differs from the entry the latest
 * checkpoint holds for them, i.e. what the next checkpoint must write into the global tree.
 */
export async function changedTopLevelHeads(db: Database, rootId: string, ex: Executor = db.read): Promise<HeadRow[]> {
  const rs = await ex.execute({
    sql: `SELECT s.id, s.height, s.root, s.head_hash, s.verify = 'headers' FROM subtrees s
          LEFT JOIN checkpoint_entries e
            ON e.subtree = s.id AND e.seq = (SELECT max(seq) FROM checkpoint_entries WHERE subtree = s.id)
          WHERE s.parent = ? AND (e.subtree IS NULL OR e.height <> s.height OR e.round <> s.head_hash
            OR (e.verify IS 'headers') <> (s.verify IS 'headers'))
          ORDER BY s.id`,
    args: [rootId],
  });
  return rs.rows.map((r) => ({ subtree: String(r[0]), height: num(r[1]), root: String(r[2]), round: String(r[3]), ...(num(r[4]) === 1 ? { verify: 'headers' as const } : {}) }));
}

/** The global tree's entry for `subtree` as of checkpoint `atSeq` (latest when absent). */
export async function globalEntryAt(db: Database, subtree: string, atSeq?: number): Promise<EntryRow | undefined> {
  const rs = await db.read.execute({
    sql: `SELECT subtree, seq, height, root, round, verify FROM checkpoint_entries
          WHERE subtree = ? AND seq <= ? ORDER BY seq DESC LIMIT 1`,
    args: [subtree, atSeq ?? Number.MAX_SAFE_INTEGER],
  });
  const r = rs.rows[0];
  return r
    ? { subtree: String(r[0]), seq: num(r[1]), height: num(r[2]), root: String(r[3]), round: String(r[4]), ...(r[5] === 'headers' ? { verify: 'headers' as const } : {}) }
    : undefined;
}

export interface NewAnchor {
  digest: string;
  calendars: string[];
}

export interface InsertCheckpointInput {
  row: CheckpointRow;
  /** Entries that changed at this checkpoint. */
  entries: readonly HeadRow[];
  nodes: NewNodes;
  values: readonly StoredValue[];
  events: readonly NewEvent[];
  /** An anchor row to create (absent when anchoring is off). */
  anchor?: NewAnchor;
  lease: LeaseClaim;
  now: number;
}

/**
 * Commits checkpoint `row.seq` with everything that belongs to it, in one transaction. Refuses
 * (CheckpointRaceError) unless `row.seq` is exactly the next seq; LeaseLostError when fenced off.
 */
export async function insertCheckpoint(db: Database, input: InsertCheckpointInput): Promise<void> {
  await db.write(async (tx) => {
    await assertLease(tx, input.lease, input.now);
    const last = await latestCheckpoint(db, tx);
    const next = last ? last.seq + 1 : 0;
    if (input.row.seq !== next) throw new CheckpointRaceError(`checkpoint ${input.row.seq} is not the next one (${next})`);
    await insertNodes(tx, input.nodes);
    await insertValues(tx, input.values);
    const r = input.row;
    await tx.execute({
      sql: `INSERT INTO checkpoints (${CP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      args: [r.seq, r.hash, JSON.stringify(r.body), r.sig, r.signer, r.globalRoot, r.leafHash, r.logRoot, r.note, r.createdAt],
    });
    for (const part of chunks(input.entries, 200)) {
      await tx.execute({
        sql: `INSERT INTO checkpoint_entries (subtree, seq, height, root, round, verify) VALUES ${valueRows(part.length, 6)}`,
        args: part.flatMap((e) => [e.subtree, r.seq, e.height, e.root, e.round, e.verify ?? null]),
      });
    }
    if (input.anchor) {
      await tx.execute({
        sql: `INSERT INTO anchors (seq, digest, status, proof, unsubmitted, attempts, next_at, updated_at)
              VALUES (?, ?, 'pending', NULL, ?, 0, ?, ?)`,
        args: [r.seq, input.anchor.digest, JSON.stringify(input.anchor.calendars), input.now, input.now],
      });
    }
    await insertEvents(tx, input.events, input.now);
  });
}

// ---- anchors ----

export interface AnchorRow {
  seq: number;
  digest: string;
  status: AnchorStatus;
  proof: Uint8Array | null;
  unsubmitted: string[];
  attempts: number;
  nextAt: number;
  lastError: string | null;
  bitcoinHeight: number | null;
  updatedAt: number;
}

const ANCHOR_COLUMNS = 'seq, digest, status, proof, unsubmitted, attempts, next_at, last_error, bitcoin_height, updated_at';

function anchorOf(r: Record<number, unknown>): AnchorRow {
  return {
    seq: num(r[0]),
    digest: String(r[1]),
    status: String(r[2]) as AnchorStatus,
    proof: r[3] === null || r[3] === undefined ? null : toBytes(r[3]),
    unsubmitted: JSON.parse(String(r[4])) as string[],
    attempts: num(r[5]),
    nextAt: num(r[6]),
    lastError: r[7] === null ? null : String(r[7]),
    bitcoinHeight: r[8] === null ? null : num(r[8]),
    updatedAt: num(r[9]),
  };
}

export async function getAnchor(db: Database, seq: number): Promise<AnchorRow | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE seq = ?`, args: [seq] });
  return rs.rows[0] ? anchorOf(rs.rows[0]) : undefined;
}

/** Pending anchors whose next attempt is due, oldest first. */
export async function dueAnchors(db: Database, now: number, limit: number): Promise<AnchorRow[]> {
  const rs = await db.read.execute({
    sql: `SELECT ${ANCHOR_COLUMNS} FROM anchors WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, seq LIMIT ?`,
    args: [now, limit],
  });
  return rs.rows.map(anchorOf);
}

/**
 * Saves the outcome of one attempt. Only a still-pending row changes; when `confirmed` the row
 * turns `confirmed` and `event` (anchor.confirmed) is written in the same transaction, exactly once.
 */
export async function saveAnchorAttempt(
  db: Database,
  input: {
    seq: number;
    proof: Uint8Array | null;
    unsubmitted: string[];
    attempts: number;
    nextAt: number;
    lastError: string | null;
    confirmed?: { bitcoinHeight: number; event: NewEvent };
    now: number;
  },
): Promise<boolean> {
  return db.write(async (tx) => {
    const rs = await tx.execute({
      sql: `UPDATE anchors SET proof = ?, unsubmitted = ?, attempts = ?, next_at = ?, last_error = ?, updated_at = ?,
              status = ?, bitcoin_height = ?
            WHERE seq = ? AND status = 'pending'`,
      args: [
        input.proof,
        JSON.stringify(input.unsubmitted),
        input.attempts,
        input.nextAt,
        input.lastError,
        input.now,
        input.confirmed ? 'confirmed' : 'pending',
        input.confirmed?.bitcoinHeight ?? null,
        input.seq,
      ],
    });
    if (rs.rowsAffected !== 1) return false;
    if (input.confirmed) await insertEvents(tx, [input.confirmed.event], input.now);
    return true;
  });
}
