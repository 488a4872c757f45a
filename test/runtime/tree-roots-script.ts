/**
 * Run by tree-roots.test.ts under Bun, Node (bundled) and Deno: applies one fixed sequence of
 * batches to the core's tree, once on the in-memory store (batches applied in place) and once
 * through the generic store interface (level-by-level apply), and prints every root and a few
 * proofs as JSON. Every runtime must print the same bytes. Where the runtime can run a tree helper
 * thread (src/platform/tree-helper.ts), a third store applies every batch of two or more writes
 * on two threads, and the script fails unless its roots are the same.
 */
import { EMPTY_HASH } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { MemoryNodeStore } from '../../src/core/smt/memory-store.ts';
import type { NodeStore } from '../../src/core/smt/node-store.ts';
import { SparseMerkleTree, type TreeWrite } from '../../src/core/smt/tree.ts';
import { startTreeHelper } from '../../src/platform/tree-helper.ts';

const inPlaceStore = new MemoryNodeStore();
const backing = new MemoryNodeStore();
const generic: NodeStore = { getMany: (h) => backing.getMany(h), putMany: (n) => backing.putMany(n) };
const trees = [new SparseMerkleTree(inPlaceStore), new SparseMerkleTree(generic)];
const roots = [EMPTY_HASH, EMPTY_HASH];
const helper = startTreeHelper();
if (helper && !(await helper.ready)) throw new Error('the tree helper thread did not load');
const helped = helper ? new SparseMerkleTree(new MemoryNodeStore({ helper, helpedMinWrites: 2 })) : undefined;
let helpedRoot = EMPTY_HASH;

// Inserts (one batch larger than a store segment), updates, deletes, rewrites of the same value,
// deletes of absent keys, and a batch that empties a subtree so a lone leaf moves up.
const batches: TreeWrite[][] = [
  Array.from({ length: 12_000 }, (_, i) => ({ key: `acct/${i}`, value: { n: i, s: `v${i % 97}` } })),
  Array.from({ length: 3_000 }, (_, i) => ({ key: `acct/${(i * 7) % 12_000}`, value: i % 3 === 0 ? null : ([i, true, null] as JsonValue) })),
  [{ key: 'acct/1', value: { n: 1, s: 'v1' } }, { key: 'absent', value: null }, { key: 'unicode/ключ/🔑', value: 'é' }],
  Array.from({ length: 11_990 }, (_, i) => ({ key: `acct/${i}`, value: null })),
  [{ key: 'one', value: 1 }],
];
const out: { roots: string[][]; proofs: unknown[] } = { roots: [], proofs: [] };
for (const batch of batches) {
  const results = await Promise.all(trees.map((t, i) => t.apply(roots[i]!, batch)));
  inPlaceStore.putPacked(results[0]!.packed);
  await backing.putMany(results[1]!.nodes);
  results.forEach((r, i) => (roots[i] = r.root));
  out.roots.push(roots.map((r) => toHex(r)));
  if (helped) {
    helpedRoot = (await helped.apply(helpedRoot, batch)).root;
    if (toHex(helpedRoot) !== toHex(roots[0]!)) throw new Error(`two threads gave another root: ${toHex(helpedRoot)}`);
  }
}
if (helper && helper.stats.jobs === 0) throw new Error('the tree helper was never used');
helper?.close();
for (const key of ['acct/11995', 'acct/1', 'unicode/ключ/🔑', 'one', 'absent']) out.proofs.push(await trees[0]!.prove(roots[0]!, key), await trees[1]!.prove(roots[1]!, key));
console.log(JSON.stringify(out));
