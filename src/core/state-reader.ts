import { fail } from './errors.ts';
import { sha256, type Hash32, type Sha256 } from './hash.ts';
import { toHex } from './hex.ts';
import type { JsonValue } from './jcs.ts';
import type { SparseMerkleTree, StoredValue } from './smt/tree.ts';

/**
 * Values are content-addressed like tree nodes (valueHash → jcs bytes) and kept apart from them:
 * the tree stores only value hashes. Reading a key at a root = walk to its leaf, then fetch the
 * value blob by hash. These ports mirror NodeReader/NodeStore for the value side.
 */
export interface ValueReader {
  getValues(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]>;
}

export interface ValueStore extends ValueReader {
  /** Idempotent: a hash already present is ignored. */
  putValues(values: readonly StoredValue[]): Promise<void>;
}

/** Values in a Map, for tests, replay and short-lived work. */
export class MemoryValueStore implements ValueStore {
  private readonly byHash = new Map<string, Uint8Array>();

  get size(): number {
    return this.byHash.size;
  }

  async getValues(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]> {
    return hashes.map((h) => this.byHash.get(toHex(h)));
  }

  async putValues(values: readonly StoredValue[]): Promise<void> {
    for (const v of values) {
      const k = toHex(v.hash);
      if (!this.byHash.has(k)) this.byHash.set(k, v.bytes);
    }
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The values of `keys` at `root`; absent keys map to `undefined` (so the map says what was loaded).
 * Walks the tree through `getValueHashes`, which reads each level once for all keys (like
 * `proveMany`, without siblings): a database-backed store answers O(depth) queries per round
 * instead of O(depth) per key.
 */
export async function readState(
  tree: SparseMerkleTree,
  values: ValueReader,
  root: Hash32,
  keys: readonly string[],
  // Kept for callers: the tree hashes key paths with its own function.
  _hash: Sha256 = sha256,
): Promise<Map<string, JsonValue | undefined>> {
  const hashes = await tree.getValueHashes(root, keys);
  const present: Hash32[] = [];
  for (const h of hashes) if (h !== null) present.push(h);
  const blobs = await values.getValues(present);
  const out = new Map<string, JsonValue | undefined>();
  let j = 0;
  keys.forEach((key, i) => {
    if (hashes[i] === null) {
      out.set(key, undefined);
      return;
    }
    const bytes = blobs[j++];
    if (bytes === undefined) fail('missing_node', `value of "${key}" missing from the value store`, { key, valueHash: toHex(hashes[i]!) });
    out.set(key, JSON.parse(decoder.decode(bytes)) as JsonValue);
  });
  return out;
}
