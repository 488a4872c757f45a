import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { Hash32 } from '../../src/core/hash.ts';
import { jcsBytes, type JsonValue } from '../../src/core/jcs.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import type { NodeStore } from '../../src/core/smt/node-store.ts';
import { SparseMerkleTree, type TreeWrite } from '../../src/core/smt/tree.ts';

/** A tree plus the store it writes to: applies a batch and persists what the batch created. */
export class TreeFixture {
  readonly tree: SparseMerkleTree;
  constructor(readonly store: NodeStore = new MemoryNodeStore()) {
    this.tree = new SparseMerkleTree(store);
  }

  async write(root: Hash32, writes: Iterable<TreeWrite>): Promise<Hash32> {
    const r = await this.tree.apply(root, writes);
    await this.store.putMany(r);
    return r.root;
  }
}

export interface VectorOp {
  op: 'set' | 'delete';
  key: string;
  value?: JsonValue;
}

export function toWrite(op: VectorOp): TreeWrite {
  return { key: op.key, value: op.op === 'delete' ? null : (op.value as JsonValue) };
}


/**
 * SPEC §4 written out as its recursive definition, as the test oracle: no batching, no storage,
 * noble SHA-256 directly. Slow and obviously right, so the fast tree is checked against it.
 */
export function referenceRoot(entries: Iterable<{ path: Uint8Array; valueHash: Uint8Array }>): Uint8Array {
  const all = [...entries];
  const bit = (p: Uint8Array, i: number) => (p[i >> 3]! >> (7 - (i % 8))) & 1;
  const H = (...parts: (number[] | Uint8Array)[]) => nobleSha256(Uint8Array.from(parts.flatMap((p) => Array.from(p))));
  const hashOf = (set: typeof all, d: number): Uint8Array => {
    if (set.length === 0) return new Uint8Array(32);
    if (set.length === 1) return H([0], set[0]!.path, set[0]!.valueHash);
    return H([1], hashOf(set.filter((e) => bit(e.path, d) === 0), d + 1), hashOf(set.filter((e) => bit(e.path, d) === 1), d + 1));
  };
  return hashOf(all, 0);
}

/** The oracle over a key → value map, hashing keys and values by SPEC §4 with noble directly. */
export function referenceRootOf(state: Map<string, JsonValue>): Uint8Array {
  return referenceRoot(
    [...state].map(([k, v]) => ({ path: nobleSha256(new TextEncoder().encode(k)), valueHash: nobleSha256(jcsBytes(v)) })),
  );
}
