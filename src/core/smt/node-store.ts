import type { Hash32 } from '../hash.ts';

/**
 * A node's bytes are exactly its hash preimage (65 bytes: `0x00 || path || valueHash` for a leaf,
 * `0x01 || left || right` for an inner node) and its hash is `H(bytes)`. Nodes are immutable, so
 * every historical root stays readable and a store never updates or deletes a node.
 *
 * Where nodes live is the store's business, but a store may number them instead of indexing their
 * hashes (src/store/node-store.ts does: a round's nodes are appended in order, read by number).
 * For that the tree hands each request the store's reference for the node, which it found in the
 * parent's record: a store that answers with RECORD_BYTES-long records puts its references to the
 * node's children (and to the node itself) after the 65 bytes. A store that answers with bare
 * 65-byte nodes is content-addressed and gets NO_REF everywhere.
 *
 * The tree reads a whole level of a batch at once through `getMany`, so a database-backed store
 * answers O(depth) queries per batch, not one per node.
 */
export interface NodeReader {
  /**
   * Returns the node (65 bytes, or a RECORD_BYTES record) for each hash, `undefined` where the
   * store does not have it. `refs[i]` is the store's reference for `hashes[i]` as its parent's
   * record gave it, NO_REF for a root (found by hash) or from a content-addressed store.
   */
  getMany(hashes: readonly Hash32[], refs?: readonly number[]): Promise<(Uint8Array | undefined)[]>;
}

export interface NodeStore extends NodeReader {
  /** Persists the nodes a batch created (idempotent for a content-addressed store). */
  putMany(nodes: NewNodes): Promise<void>;
}

export interface StoredNode {
  hash: Hash32;
  bytes: Uint8Array;
}

/** No reference: an empty child, a root (looked up by hash) or a content-addressed store. */
export const NO_REF = -1;
/** A node's 65 bytes, then 8-byte references to its left child, right child and itself. */
export const RECORD_BYTES = 89;
export const LEFT_REF_AT = 65;
export const RIGHT_REF_AT = 73;
export const SELF_REF_AT = 81;

/**
 * References in records and in `PackedNodes.kids`: a store's own number (>= 0), NO_REF, or, only in
 * a batch's output, node `k` of the same batch as `newRef(k)` (the store numbers it when writing).
 */
export function newRef(k: number): number {
  return -2 - k;
}

/** The batch index of a `newRef`, or -1 when `ref` is not one. */
export function newIndex(ref: number): number {
  return ref <= -2 ? -2 - ref : -1;
}

/** Reads the reference stored at `b[at..at+8)`: big-endian `ref + 1`, so zero bytes are NO_REF. */
export function readRef(b: Uint8Array, at: number): number {
  const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  return hi * 0x1_0000_0000 + lo - 1;
}

export function writeRef(b: Uint8Array, at: number, ref: number): void {
  const v = ref + 1;
  const hi = Math.floor(v / 0x1_0000_0000);
  const lo = v >>> 0;
  b[at] = hi >>> 24;
  b[at + 1] = hi >>> 16;
  b[at + 2] = hi >>> 8;
  b[at + 3] = hi;
  b[at + 4] = lo >>> 24;
  b[at + 5] = lo >>> 16;
  b[at + 6] = lo >>> 8;
  b[at + 7] = lo;
}

/**
 * The store's reference for the hash at `b[o..o+32)` when that hash is a child slot of a record
 * (records sit at multiples of RECORD_BYTES in `b`); NO_REF for anything else (a root, a bare node).
 */
export function refAt(b: Uint8Array, o: number): number {
  if (b.length < RECORD_BYTES || b.length % RECORD_BYTES !== 0) return NO_REF;
  const slot = o % RECORD_BYTES;
  const r = o - slot;
  return slot === 1 ? readRef(b, r + LEFT_REF_AT) : slot === 33 ? readRef(b, r + RIGHT_REF_AT) : NO_REF;
}

/** The node's own reference in a record at `b[o..)`, NO_REF for a bare node. */
export function selfRefAt(b: Uint8Array, o: number): number {
  return b.length >= o + RECORD_BYTES ? readRef(b, o + SELF_REF_AT) : NO_REF;
}

/**
 * The nodes a batch created, packed back to back without a JS object per node: node `i` has its
 * hash at `hashes[32i, 32i + 32)`, its bytes at `bytes[65i, 65i + 65)` and its children's
 * references at `kids[2i], kids[2i + 1]` (NO_REF for a leaf). A database binds the slices as
 * blobs. Never mutated after the tree hands them out.
 */
export interface PackedNodes {
  count: number;
  hashes: Uint8Array;
  bytes: Uint8Array;
  kids: Float64Array;
}

/**
 * What one batch adds to a store: its nodes in creation order (children before parents; node `k`
 * counts across the chunks) and its root with the root's reference, so a numbering store can find
 * the root by hash later.
 */
export interface NewNodes {
  readonly root: Hash32;
  readonly rootRef: number;
  readonly packed: readonly PackedNodes[];
  /** Set by a numbering store when it wrote them: node `k` is number `firstId + k`. */
  firstId?: number;
}

/** A batch that added nothing (a round finalized from a proposal, whose nodes were stored with it). */
export const NO_NEW_NODES: NewNodes = Object.freeze({ root: new Uint8Array(32), rootRef: NO_REF, packed: [] });

/** Total nodes of a batch. */
export function newNodeCount(n: NewNodes): number {
  let c = 0;
  for (const p of n.packed) c += p.count;
  return c;
}

/**
 * Optional synchronous path for stores that hold part of the tree in memory (a cache in front
 * of a database): a miss is no error — the tree then reads that whole level through `getMany`. Saves a Promise and a lookup array per level when
 * everything is cached, which for state reads is the common case.
 */
export interface CachedNodeReader extends NodeReader {
  /**
   * For each `i < n`, finds the node whose hash is `hashes[i][offs[i], offs[i] + 32)` and sets
   * `outBufs[i]`, `outOffs[i]` to where its record sits (read-only). Returns the first `i` that
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
