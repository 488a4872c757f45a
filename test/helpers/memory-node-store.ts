import { hex32 } from '../../src/core/smt/hashing.ts';
import { NO_REF, type NewNodes, type NodeStore, type StoredNode } from '../../src/core/smt/node-store.ts';

/**
 * The simplest NodeStore: a Map from hex hash to a copy of the node's bytes (content-addressed: it
 * ignores references). For tests and
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

  async putMany(nodes: NewNodes): Promise<void> {
    for (const p of nodes.packed) {
      for (let i = 0; i < p.count; i++) {
        const key = hex32(p.hashes, i * 32);
        if (!this.nodes.has(key)) this.nodes.set(key, p.bytes.slice(i * 65, i * 65 + 65));
      }
    }
  }
}

/** The nodes a batch created, one object each, for tests that count or compare them. */
export function nodesOf(r: NewNodes): StoredNode[] {
  const out: StoredNode[] = [];
  for (const p of r.packed) {
    for (let i = 0; i < p.count; i++) out.push({ hash: p.hashes.slice(i * 32, i * 32 + 32), bytes: p.bytes.slice(i * 65, i * 65 + 65) });
  }
  return out;
}

/** Arbitrary nodes as one batch's output (no children references, no root), for cache tests. */
export function asNewNodes(nodes: readonly StoredNode[]): NewNodes {
  const hashes = new Uint8Array(nodes.length * 32);
  const bytes = new Uint8Array(nodes.length * 65);
  nodes.forEach((n, i) => (hashes.set(n.hash, i * 32), bytes.set(n.bytes, i * 65)));
  return { root: new Uint8Array(32), rootRef: NO_REF, packed: [{ count: nodes.length, hashes, bytes, kids: new Float64Array(nodes.length * 2).fill(NO_REF) }] };
}
