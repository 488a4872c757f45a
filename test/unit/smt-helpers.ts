import type { Hash32 } from '../../src/core/hash.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { MemoryNodeStore } from '../../src/core/smt/memory-store.ts';
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
    await this.store.putMany(r.nodes);
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
