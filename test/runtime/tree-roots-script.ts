/**
 * Run by tree-roots.test.ts under Bun, Node (bundled) and Deno: applies one fixed sequence of
 * batches to the core's tree, once through the node's cache (levels read synchronously from
 * memory) and once through the generic store interface (a getMany per level), and prints every
 * root and a few proofs as JSON. Every runtime must print the same bytes.
 */
import { EMPTY_HASH } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { SparseMerkleTree, type TreeWrite } from '../../src/core/smt/tree.ts';
import { CachedNodeStore } from '../../src/store/cached-node-store.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';

const stores = [new CachedNodeStore(new MemoryNodeStore()), new MemoryNodeStore()];
const trees = stores.map((s) => new SparseMerkleTree(s));
const roots = [EMPTY_HASH, EMPTY_HASH];

// Inserts, updates, deletes, rewrites of the same value,
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
  await Promise.all(stores.map((s, i) => s.putMany(results[i]!)));
  results.forEach((r, i) => (roots[i] = r.root));
  out.roots.push(roots.map((r) => toHex(r)));
}
for (const key of ['acct/11995', 'acct/1', 'unicode/ключ/🔑', 'one', 'absent']) out.proofs.push(await trees[0]!.prove(roots[0]!, key), await trees[1]!.prove(roots[1]!, key));
console.log(JSON.stringify(out));
