import type { Hash32 } from '../hash.ts';

/**
 * Tree nodes are content-addressed: a node's stored bytes are exactly its hash preimage
 * (65 bytes: `0x00 || path || valueHash` for a leaf, `0x01 || left || right` for an inner node),
 * and its key is `H(bytes)`. Nodes are immutable, so every historical root stays readable and a
 * store never needs to update or delete a row to move forward.
 *
 * The tree never knows where nodes live. It reads a whole level of a batch at once through
 * `getMany`, so a database-backed store answers O(depth) queries per batch, not one per node.
 */
export interface NodeReader {
  /** Returns the preimage for each hash, `undefined` where the store does not have it. */
  getMany(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]>;
}

export interface NodeStore extends NodeReader {
  /** Persists nodes; hashes already present are ignored (idempotent). */
  putMany(nodes: readonly StoredNode[]): Promise<void>;
}

export interface StoredNode {
  hash: Hash32;
  bytes: Uint8Array;
}

/**
 * The nodes a batch created, packed back to back without a JS object per node: node `i` has its
 * hash at `hashes[32i, 32i + 32)` and its bytes at `bytes[65i, 65i + 65)`. A database binds the
 * slices as blobs. Never mutated after the tree hands them out.
 */
export interface PackedNodes {
  count: number;
  hashes: Uint8Array;
  bytes: Uint8Array;
}

/**
 * Optional synchronous path for stores that hold part of the tree in memory (a cache in front
 * of a database): a miss is no error — the tree then reads that whole level through `getMany`. Saves a Promise and a lookup array per level when
 * everything is cached, which for state reads is the common case.
 */
export interface CachedNodeReader extends NodeReader {
  /**
   * For each `i < n`, finds the node whose hash is `hashes[i][offs[i], offs[i] + 32)` and sets
   * `outBufs[i]`, `outOffs[i]` to where its 65 bytes sit (read-only). Returns the first `i` that
   * is not cached, or -1 when all are.
   */
  locateCachedMany(
    hashes: readonly Uint8Array[],
    offs: Int32Array,
    n: number,
    outBufs: Uint8Array[],
    outOffs: Int32Array,
  ): number;
}

export function isCachedNodeReader(store: NodeReader): store is CachedNodeReader {
  return typeof (store as Partial<CachedNodeReader>).locateCachedMany === 'function';
}

/** Object form of packed nodes, as views (no copies), for stores that take `StoredNode[]`. */
export function unpackNodes(packed: readonly PackedNodes[]): StoredNode[] {
  const out: StoredNode[] = [];
  for (const p of packed) {
    for (let i = 0; i < p.count; i++) {
      out.push({ hash: p.hashes.subarray(i * 32, i * 32 + 32), bytes: p.bytes.subarray(i * 65, i * 65 + 65) });
    }
  }
  return out;
}
