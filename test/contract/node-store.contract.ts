import { describe, expect, test } from 'bun:test';
import { sha256 } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import type { NodeStore, StoredNode } from '../../src/core/smt/node-store.ts';
import { EMPTY_HASH, SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';

/** A well-formed stored node (65 bytes, keyed by their SHA-256), distinct per seed. */
export function contractNode(seed: number): StoredNode {
  const bytes = new Uint8Array(65);
  bytes[0] = seed & 1;
  new DataView(bytes.buffer).setUint32(1, seed);
  for (let i = 5; i < 65; i++) bytes[i] = (seed * 131 + i * 17) & 0xff;
  return { hash: sha256(bytes), bytes };
}

const plain = (b: Uint8Array | undefined) => (b === undefined ? undefined : Array.from(b));

/**
 * What every NodeStore must do for the tree, whatever keeps the bytes. `make` returns a fresh,
 * empty store per test.
 */
export function runNodeStoreContract(name: string, make: () => Promise<NodeStore>): void {
  describe(`${name} — NodeStore contract`, () => {
    test('an empty request answers an empty list; unknown hashes answer undefined', async () => {
      const s = await make();
      expect(await s.getMany([])).toEqual([]);
      expect(await s.getMany([contractNode(1).hash, EMPTY_HASH])).toEqual([undefined, undefined]);
    });

    test('put then get returns the exact bytes', async () => {
      const s = await make();
      const n = contractNode(7);
      await s.putMany([n]);
      const [got] = await s.getMany([n.hash]);
      expect(plain(got)).toEqual(plain(n.bytes));
      expect(toHex(sha256(got!))).toBe(toHex(n.hash));
    });

    test('getMany answers in request order, with duplicates and gaps', async () => {
      const s = await make();
      const ns = [contractNode(10), contractNode(11), contractNode(12)];
      await s.putMany(ns);
      const ask = [ns[2]!.hash, contractNode(99).hash, ns[0]!.hash, ns[2]!.hash, ns[1]!.hash];
      const got = await s.getMany(ask);
      expect(got.map(plain)).toEqual([plain(ns[2]!.bytes), undefined, plain(ns[0]!.bytes), plain(ns[2]!.bytes), plain(ns[1]!.bytes)]);
    });

    test('putMany is idempotent, also for repeats inside one call', async () => {
      const s = await make();
      const n = contractNode(20);
      await s.putMany([n, n]);
      await s.putMany([n]);
      expect(plain((await s.getMany([n.hash]))[0])).toEqual(plain(n.bytes));
    });

    test('a store does not keep a reference to the caller’s arrays', async () => {
      const s = await make();
      const n = contractNode(21);
      const copy = { hash: n.hash.slice(), bytes: n.bytes.slice() };
      await s.putMany([copy]);
      copy.bytes.fill(0xee);
      copy.hash.fill(0xee);
      expect(plain((await s.getMany([n.hash]))[0])).toEqual(plain(n.bytes));
    });

    test('thousands of nodes keep their order both ways', async () => {
      const s = await make();
      const ns = Array.from({ length: 3001 }, (_, i) => contractNode(1000 + i));
      await s.putMany(ns);
      const reversed = [...ns].reverse();
      const got = await s.getMany(reversed.map((n) => n.hash));
      expect(got.length).toBe(ns.length);
      for (let i = 0; i < got.length; i++) expect(plain(got[i])).toEqual(plain(reversed[i]!.bytes));
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
        await s.putMany(r.nodes);
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
  });
}
