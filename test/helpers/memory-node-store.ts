import { hex32 } from '../../src/core/smt/hashing.ts';
import type { NodeStore, StoredNode } from '../../src/core/smt/node-store.ts';

/**
 * The simplest NodeStore: a Map from hex hash to a copy of the node's bytes. For tests and
 * benches that need a tree without a database; the node itself keeps nodes in libSQL behind
 * `CachedNodeStore`.
 */
export class MemoryNodeStore implements NodeStore {
  private readonly nodes = new Map<string, Uint8Array>();

  /** Number of distinct nodes held. */
  get size(): number {
    return this.nodes.size;
  }

  async getMany(hashes: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return hashes.map((h) => this.nodes.get(hex32(h)));
  }

  async putMany(nodes: readonly StoredNode[]): Promise<void> {
    for (const n of nodes) {
      if (n.hash.length !== 32 || n.bytes.length !== 65) throw new RangeError('a stored node is a 32-byte hash and 65 bytes');
      const key = hex32(n.hash);
      if (!this.nodes.has(key)) this.nodes.set(key, n.bytes.slice());
    }
  }
}
