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
