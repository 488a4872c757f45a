import type { Hash32 } from '../core/hash.ts';
import type { NodeStore, PackedNodes, StoredNode } from '../core/smt/node-store.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { ValueStore } from '../core/state-reader.ts';
import type { Database, Executor } from './database.ts';
import { preparedReads, type PreparedReads } from './prepared-reads.ts';
import { chunks, hashKey, params, toBytes, valueRows } from './sql.ts';

/** Nodes as objects, or packed the way `tree.apply` returns them (no object per node). */
export type NodesInput = readonly StoredNode[] | readonly PackedNodes[];

/** Hashes per `IN (…)` query and rows per multi-row INSERT: one statement per chunk. */
export const NODE_CHUNK = 500;

/**
 * Tree nodes and values in libSQL (smt_nodes, smt_values). Reads use the read connection unless an
 * executor is given; writes open their own write transaction unless an executor (the `tx` of a
 * surrounding `db.write`) is given, so a round commit writes nodes atomically with its round row.
 */
export class LibsqlNodeStore implements NodeStore, ValueStore {
  constructor(private readonly db: Database) {}

  getMany(hashes: readonly Hash32[], ex: Executor = this.db.read): Promise<(Uint8Array | undefined)[]> {
    return selectBlobs(this.fast(ex), 'SELECT hash, bytes FROM smt_nodes WHERE hash IN ', hashes, toBytes);
  }

  async putMany(nodes: NodesInput, ex?: Executor): Promise<void> {
    if (nodes.length === 0) return;
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

/** Multi-row INSERT OR IGNORE of tree nodes, NODE_CHUNK rows per statement. */
export async function insertNodes(ex: Executor, nodes: NodesInput): Promise<void> {
  for (const part of chunks(nodeArgs(nodes), NODE_CHUNK * 2)) {
    await ex.execute({ sql: `INSERT OR IGNORE INTO smt_nodes (hash, bytes) VALUES ${valueRows(part.length / 2, 2)}`, args: part });
  }
}

/**
 * Flat [hash, bytes, hash, bytes, …] binding list in hash order; packed nodes are bound as views,
 * not copied. Hashes are random, so unsorted inserts touch a random b-tree page per row; sorted,
 * neighbours share pages and a large batch writes measurably fewer pages.
 */
function nodeArgs(nodes: NodesInput): Uint8Array[] {
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (const n of nodes) {
    if ('count' in n) {
      for (let i = 0; i < n.count; i++) pairs.push([n.hashes.subarray(i * 32, i * 32 + 32), n.bytes.subarray(i * 65, i * 65 + 65)]);
    } else pairs.push([n.hash, n.bytes]);
  }
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  const args: Uint8Array[] = new Array(pairs.length * 2);
  for (let i = 0; i < pairs.length; i++) {
    args[2 * i] = pairs[i]![0];
    args[2 * i + 1] = pairs[i]![1];
  }
  return args;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
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
