import type { JsonValue } from '../core/jcs.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { Database } from './database.ts';
import { StaleRoundError } from './errors.ts';
import type { NewNodes } from '../core/smt/node-store.ts';
import { insertNodes, insertValues } from './node-store.ts';
import { num } from './sql.ts';

/**
 * A co-signer's replica (src/cosigner): its own database file holding the tree nodes and values
 * of the subtree it follows, the head it has verified, and every round hash it has signed.
 */

export interface ReplicaHead {
  subtree: string;
  height: number;
  root: string;
  headHash: string;
  header: JsonValue;
  /** Log position of the next transaction the replica expects to execute. */
  nextSeq: number;
  request: JsonValue;
  updatedAt: number;
}

const COLUMNS = 'subtree, height, root, head_hash, header, next_seq, request, updated_at';

export async function getReplicaHead(db: Database, subtree: string): Promise<ReplicaHead | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${COLUMNS} FROM replica_heads WHERE subtree = ?`, args: [subtree] });
  const r = rs.rows[0];
  if (!r) return undefined;
  return {
    subtree: String(r[0]),
    height: num(r[1]),
    root: String(r[2]),
    headHash: String(r[3]),
    header: JSON.parse(String(r[4])) as JsonValue,
    nextSeq: num(r[5]),
    request: JSON.parse(String(r[6])) as JsonValue,
    updatedAt: num(r[7]),
  };
}

/**
 * Moves the replica to a verified round (or creates it at genesis when `fromHeight` is null), with
 * the round's tree nodes and values, in one write transaction guarded by the expected old height.
 */
export async function advanceReplica(
  db: Database,
  input: Omit<ReplicaHead, 'updatedAt'> & { fromHeight: number | null; nodes: NewNodes; values: readonly StoredValue[]; now: number },
): Promise<void> {
  await db.write(async (tx) => {
    await insertNodes(tx, input.nodes);
    await insertValues(tx, input.values);
    if (input.fromHeight === null) {
      await tx.execute({
        sql: `INSERT INTO replica_heads (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        args: [input.subtree, input.height, input.root, input.headHash, JSON.stringify(input.header), input.nextSeq, JSON.stringify(input.request), input.now],
      });
      return;
    }
    const rs = await tx.execute({
      sql: 'UPDATE replica_heads SET height = ?, root = ?, head_hash = ?, header = ?, next_seq = ?, updated_at = ? WHERE subtree = ? AND height = ?',
      args: [input.height, input.root, input.headHash, JSON.stringify(input.header), input.nextSeq, input.now, input.subtree, input.fromHeight],
    });
    if (rs.rowsAffected !== 1) throw new StaleRoundError(`replica of ${input.subtree} is not at height ${input.fromHeight}`);
  });
}

/** Round hashes signed at `height`. */
export async function signedAt(db: Database, subtree: string, height: number): Promise<string[]> {
  const rs = await db.read.execute({ sql: 'SELECT hash FROM replica_signed WHERE subtree = ? AND height = ? ORDER BY signed_at', args: [subtree, height] });
  return rs.rows.map((r) => String(r[0]));
}

/** Durably notes a signature before it is sent. */
export async function recordSigned(db: Database, subtree: string, height: number, hash: string, now: number): Promise<void> {
  await db.write((tx) =>
    tx.execute({ sql: 'INSERT OR IGNORE INTO replica_signed (subtree, height, hash, signed_at) VALUES (?, ?, ?, ?)', args: [subtree, height, hash, now] }),
  );
}
