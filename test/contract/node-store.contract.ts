import { describe, expect, test } from 'bun:test';
import { sha256 } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import { NO_REF, refAt, type NodeStore } from '../../src/core/smt/node-store.ts';
import { EMPTY_HASH, SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { MemoryNodeStore, nodesOf } from '../helpers/memory-node-store.ts';

/** Deterministic pseudo-random numbers (xorshift32), so a failing sequence can be replayed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * Walks every node under `root` through `getMany` with the references records give, checking
 * that each node read hashes to the hash its parent names. Returns the number of nodes.
 */
export async function walkByRefs(store: NodeStore, root: Uint8Array): Promise<number> {
  let level: { hash: Uint8Array; ref: number }[] = [{ hash: root, ref: NO_REF }];
  let seen = 0;
  while (level.length > 0) {
    const got = await store.getMany(
      level.map((x) => x.hash),
      level.map((x) => x.ref),
    );
    const next: typeof level = [];
    got.forEach((b, i) => {
      expect(b).toBeDefined();
      expect(toHex(sha256(b!.subarray(0, 65)))).toBe(toHex(level[i]!.hash));
      seen++;
      if (b![0] !== 1) return;
      for (const o of [1, 33]) {
        const h = b!.slice(o, o + 32);
        if (h.some((x) => x !== 0)) next.push({ hash: h, ref: refAt(b!, o) });
      }
    });
    level = next;
  }
  return seen;
}

/**
 * What every NodeStore must do for the tree, whatever keeps the bytes. `make` returns a fresh,
 * empty store per test.
 */
export function runNodeStoreContract(name: string, make: () => Promise<NodeStore>): void {
  describe(`${name} — NodeStore contract`, () => {
    test('an empty request answers an empty list; an unknown root answers undefined', async () => {
      const s = await make();
      expect(await s.getMany([])).toEqual([]);
      expect(await s.getMany([sha256(new Uint8Array([1]))])).toEqual([undefined]);
    });

    test('a stored root is found by its hash, and every node under it through its parent', async () => {
      const s = await make();
      const tree = new SparseMerkleTree(s);
      const r = await tree.apply(EMPTY_HASH, Array.from({ length: 300 }, (_, i) => ({ key: `n/${i}`, value: i })));
      await s.putMany(r);
      expect(await walkByRefs(s, r.root)).toBe(nodesOf(r).length);
    });

    test('the tree runs on it: every historical root still answers proofs', async () => {
      const s = await make();
      const tree = new SparseMerkleTree(s);
      const roots: Uint8Array[] = [];
      let root = EMPTY_HASH;
      for (let round = 0; round < 4; round++) {
        const r = await tree.apply(
          root,
          Array.from({ length: 50 }, (_, i) => ({ key: `k/${i}`, value: i % 7 === round ? null : { round, i } })),
        );
        await s.putMany(r);
        root = r.root;
        roots.push(root);
      }
      for (let round = 0; round < roots.length; round++) {
        const rootHex = toHex(roots[round]!);
        for (const i of [0, 3, 49]) {
          const key = `k/${i}`;
          const proof = await tree.prove(roots[round]!, key);
          if (i % 7 === round) verifyProof(proof, { key, root: rootHex });
          else verifyProof(proof, { key, root: rootHex, value: { round, i } });
        }
      }
    });

    test('leaves that move (down under a new sibling, up when one is deleted, to the root) and no-op batches keep every root readable', async () => {
      const s = await make();
      const tree = new SparseMerkleTree(s);
      const memory = new MemoryNodeStore();
      const mirror = new SparseMerkleTree(memory);
      const next = rng(18);
      const roots: Uint8Array[] = [];
      let root = EMPTY_HASH;
      let mroot = EMPTY_HASH;
      // A handful of keys: the tree keeps collapsing to a lone leaf and growing again.
      const keys = Array.from({ length: 6 }, (_, i) => `m/${i}`);
      const ops: { key: string; value: number | null }[][] = [
        [{ key: keys[0]!, value: 1 }], // a lone leaf at the root
        [{ key: keys[1]!, value: 2 }], // it moves down
        [{ key: keys[1]!, value: null }], // it moves back up to the root
        [{ key: keys[0]!, value: 1 }], // a no-op
        [], // nothing
      ];
      for (let i = 0; i < 60; i++) {
        ops.push(Array.from({ length: 1 + Math.floor(next() * 4) }, () => ({ key: keys[Math.floor(next() * keys.length)]!, value: next() < 0.45 ? null : Math.floor(next() * 3) })));
      }
      for (const batch of ops) {
        const r = await tree.apply(root, batch);
        await s.putMany(r);
        const m = await mirror.apply(mroot, batch);
        await memory.putMany(m);
        expect(toHex(r.root)).toBe(toHex(m.root));
        root = r.root;
        mroot = m.root;
        roots.push(root);
      }
      for (const at of roots) {
        if (at.every((x) => x === 0)) continue;
        expect(await tree.proveMany(at, keys)).toEqual(await mirror.proveMany(at, keys));
      }
    });
  });
}

