import type { Hash32 } from '../core/hash.ts';
import { NODE_BYTES } from '../core/smt/hashing.ts';
import { NO_REF, RECORD_BYTES, SELF_REF_AT, newIndex, newNodeCount, writeRef, type NewNodes, type NodeStore } from '../core/smt/node-store.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import { isZero32 } from '../core/smt/words.ts';
import type { ValueStore } from '../core/state-reader.ts';
import type { Database, Executor } from './database.ts';
import { preparedReads, type PreparedReads } from './prepared-reads.ts';
import { chunks, hashKey, num, params, toBytes, valueRows } from './sql.ts';

/** Ids or hashes per `IN (…)` query and rows per multi-row INSERT: one statement per chunk. */
export const NODE_CHUNK = 500;

/**
 * Tree nodes and values in libSQL. Nodes are numbered, not indexed by hash (smt_tree): a batch's
 * nodes get the next free ids in creation order, so a round appends its nodes at the end of one
 * b-tree, and a node is read by the id its parent's row gives for it (`rec` = the 65 node bytes,
 * then for an inner node its children's ids, see node-store.ts in core). Only roots are found by
 * hash (smt_roots, one row per stored root). Values stay content-addressed (smt_values).
 *
 * Reads use the read connection unless an executor is given; writes open their own write
 * transaction unless an executor (the `tx` of a surrounding `db.write`) is given, so a round
 * commit writes nodes atomically with its round row.
 */
export class LibsqlNodeStore implements NodeStore, ValueStore {
  constructor(private readonly db: Database) {}

  /** Records (RECORD_BYTES) for the nodes: by id where `refs` gives one, else as a stored root by hash. */
  async getMany(hashes: readonly Hash32[], refs?: readonly number[], ex: Executor = this.db.read): Promise<(Uint8Array | undefined)[]> {
    const out = new Array<Uint8Array | undefined>(hashes.length);
    const ids: number[] = [];
    const idAt: number[] = [];
    const roots: Hash32[] = [];
    const rootAt: number[] = [];
    for (let i = 0; i < hashes.length; i++) {
      const ref = refs?.[i] ?? NO_REF;
      if (ref >= 0) ids.push(ref), idAt.push(i);
      else roots.push(hashes[i]!), rootAt.push(i);
    }
    const db = this.fast(ex);
    if (ids.length > 0) {
      const byId = new Map<number, Uint8Array>();
      for (const part of chunks(ids, NODE_CHUNK)) {
        for (const row of await rows(db, `SELECT id, rec FROM smt_tree WHERE id IN (${params(part.length)})`, part)) {
          byId.set(num(row[0]), record(num(row[0]), row[1]));
        }
      }
      for (let j = 0; j < ids.length; j++) out[idAt[j]!] = byId.get(ids[j]!);
    }
    if (roots.length > 0) {
      const byHash = new Map<string, Uint8Array>();
      for (const part of chunks(roots, NODE_CHUNK)) {
        const sql = `SELECT r.hash, t.id, t.rec FROM smt_roots r JOIN smt_tree t ON t.id = r.node WHERE r.hash IN (${params(part.length)})`;
        for (const row of await rows(db, sql, part)) byHash.set(hashKey(toBytes(row[0])), record(num(row[1]), row[2]));
      }
      for (let j = 0; j < roots.length; j++) out[rootAt[j]!] = byHash.get(hashKey(roots[j]!));
    }
    return out;
  }

  async putMany(nodes: NewNodes, ex?: Executor): Promise<void> {
    if (ex) return insertNodes(ex, nodes);
    await this.db.write((tx) => insertNodes(tx, nodes));
  }

  getValues(hashes: readonly Hash32[], ex: Executor = this.db.read): Promise<(Uint8Array | undefined)[]> {
    return selectBlobs(this.fast(ex), 'SELECT hash, json FROM smt_values WHERE hash IN ', hashes, (v) => encoder.encode(String(v)));
  }

  /** Reads outside a write transaction use the prepared-statement connection when there is one. */
  private fast(ex: Executor): Executor | PreparedReads {
    return (ex === this.db.read && preparedReads(this.db)) || ex;
  }

  async putValues(values: readonly StoredValue[], ex?: Executor): Promise<void> {
    if (values.length === 0) return;
    if (ex) return insertValues(ex, values);
    await this.db.write((tx) => insertValues(tx, values));
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

async function rows(ex: Executor | PreparedReads, sql: string, args: readonly (number | Uint8Array)[]): Promise<unknown[][]> {
  return 'execute' in ex ? ((await ex.execute({ sql, args: args as (number | Uint8Array)[] })).rows as unknown as unknown[][]) : ex.all(sql, args);
}

/** A stored row as the tree reads it: `rec`, zero refs where a leaf has none, then the node's own id. */
function record(id: number, rec: unknown): Uint8Array {
  const b = toBytes(rec);
  // A malformed row is handed on as it is (the tree refuses it).
  if (b.length !== NODE_BYTES && b.length !== SELF_REF_AT) return b;
  const r = new Uint8Array(RECORD_BYTES);
  r.set(b);
  writeRef(r, SELF_REF_AT, id);
  return r;
}

/**
 * Appends a batch's nodes to smt_tree under the next free ids (node k gets `first + k`; inside the
 * caller's write transaction nobody else takes ids), NODE_CHUNK rows per statement, and registers
 * its root in smt_roots. Sets `nodes.firstId`, which the node cache needs to link what it keeps.
 */
export async function insertNodes(ex: Executor, nodes: NewNodes): Promise<void> {
  const count = newNodeCount(nodes);
  let first = 0;
  if (count > 0) {
    first = num((await ex.execute('SELECT coalesce(max(id), 0) + 1 FROM smt_tree')).rows[0]![0]);
    const args: (number | Uint8Array)[] = new Array(count * 2);
    // Every row's `rec` in one buffer, bound as views: a leaf's 65 bytes, an inner node's 81.
    const recs = new Uint8Array(count * SELF_REF_AT);
    let k = 0;
    for (const p of nodes.packed) {
      for (let i = 0; i < p.count; i++, k++) {
        const at = k * SELF_REF_AT;
        recs.set(p.bytes.subarray(i * NODE_BYTES, i * NODE_BYTES + NODE_BYTES), at);
        const inner = p.bytes[i * NODE_BYTES] !== 0;
        if (inner) {
          writeRef(recs, at + NODE_BYTES, resolve(p.kids[2 * i]!, first));
          writeRef(recs, at + NODE_BYTES + 8, resolve(p.kids[2 * i + 1]!, first));
        }
        args[2 * k] = first + k;
        args[2 * k + 1] = recs.subarray(at, at + (inner ? SELF_REF_AT : NODE_BYTES));
      }
    }
    for (const part of chunks(args, NODE_CHUNK * 2)) {
      await ex.execute({ sql: `INSERT INTO smt_tree (id, rec) VALUES ${valueRows(part.length / 2, 2)}`, args: part });
    }
  }
  const rootId = resolve(nodes.rootRef, first);
  if (rootId !== NO_REF && !isZero32(nodes.root, 0)) {
    await ex.execute({ sql: 'INSERT OR IGNORE INTO smt_roots (hash, node) VALUES (?, ?)', args: [nodes.root, rootId] });
  }
  if (count > 0) nodes.firstId = first;
}

/** A batch's reference as a stored id: a new node's is `first + k`. */
function resolve(ref: number, first: number): number {
  const k = newIndex(ref);
  return k >= 0 ? first + k : ref;
}


/** Multi-row INSERT OR IGNORE of values (stored as their JSON text), NODE_CHUNK rows per statement. */
export async function insertValues(ex: Executor, values: readonly StoredValue[]): Promise<void> {
  for (const part of chunks(values, NODE_CHUNK)) {
    const args: (Uint8Array | string)[] = [];
    for (const v of part) args.push(v.hash, decoder.decode(v.bytes));
    await ex.execute({ sql: `INSERT OR IGNORE INTO smt_values (hash, json) VALUES ${valueRows(part.length, 2)}`, args });
  }
}

async function selectBlobs(
  ex: Executor | PreparedReads,
  sqlPrefix: string,
  hashes: readonly Hash32[],
  decode: (v: unknown) => Uint8Array,
): Promise<(Uint8Array | undefined)[]> {
  const found = new Map<string, Uint8Array>();
  for (const part of chunks(hashes, NODE_CHUNK)) {
    const sql = `${sqlPrefix}(${params(part.length)})`;
    const rows = 'execute' in ex ? (await ex.execute({ sql, args: part as Hash32[] })).rows : ex.all(sql, part);
    for (const row of rows) found.set(hashKey(toBytes(row[0])), decode(row[1]));
  }
  return hashes.map((h) => found.get(hashKey(h)));
}
