import type { Hash32 } from '../hash.ts';
import type { HashInto, PackedBatch } from './apply-batch.ts';

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
 * slices as blobs; an in-memory store can keep the buffers as they are. Never mutated after the
 * tree hands them out.
 */
export interface PackedNodes {
  count: number;
  hashes: Uint8Array;
  bytes: Uint8Array;
}

/**
 * Optional synchronous, zero-copy read path for stores that hold nodes in memory. When a store
 * offers it the tree uses it instead of `getMany`, saving a Promise per level and an allocation
 * per node; results must be identical to `getMany`'s.
 */
export interface DirectNodeReader extends NodeReader {
  /**
   * For each `i < n`, finds the node whose hash is `hashes[i][offs[i], offs[i] + 32)` and sets
   * `outBufs[i]`, `outOffs[i]` to where its 65 bytes sit (read-only). Returns the first `i` that
   * is missing, or -1 when all are present.
   */
  locateMany(
    hashes: readonly Uint8Array[],
    offs: Int32Array,
    n: number,
    outBufs: Uint8Array[],
    outOffs: Int32Array,
  ): number;
}

export function isDirectNodeReader(store: NodeReader): store is DirectNodeReader {
  return typeof (store as Partial<DirectNodeReader>).locateMany === 'function';
}

/**
 * Optional synchronous path for stores that hold only part of the tree in memory (a cache in
 * front of a database): same contract as `locateMany`, but a miss is no error — the tree then
 * reads that whole level through `getMany`. Saves a Promise and a lookup array per level when
 * everything is cached, which for state reads is the common case.
 */
export interface CachedNodeReader extends NodeReader {
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

/**
 * Optional: a store that holds the whole tree in memory with links between nodes applies a batch
 * itself, writing the new nodes into place (`MemoryNodeStore`). Same result as `applyBatch`, byte
 * for byte; the new nodes are held by the store when it returns, and `packed` views them.
 */
export interface InPlaceApplier extends NodeReader {
  applyInPlace(hashInto: HashInto, oldRoot: Hash32, batch: PackedBatch): { root: Hash32; packed: PackedNodes[] };
}

export function isInPlaceApplier(store: NodeReader): store is InPlaceApplier {
  return typeof (store as Partial<InPlaceApplier>).applyInPlace === 'function';
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
