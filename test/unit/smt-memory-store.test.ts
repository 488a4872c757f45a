import { describe, expect, test } from 'bun:test';
import { MemoryNodeStore } from '../../src/core/smt/memory-store.ts';
import { EMPTY_HASH } from '../../src/core/hash.ts';
import type { NodeStore, PackedNodes, StoredNode } from '../../src/core/smt/node-store.ts';
import { SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { referenceRootOf } from './smt-helpers.ts';
import { contractNode, runNodeStoreContract } from '../contract/node-store.contract.ts';

runNodeStoreContract('MemoryNodeStore', async () => new MemoryNodeStore());
// The cache's form: slots and tags taken from the last 8 bytes of each hash.
runNodeStoreContract('MemoryNodeStore({ probeOffset: 24 })', async () => new MemoryNodeStore({ probeOffset: 24 }));

function pack(seeds: number[]): PackedNodes {
  const hashes = new Uint8Array(seeds.length * 32);
  const bytes = new Uint8Array(seeds.length * 65);
  seeds.forEach((s, i) => {
    const n = contractNode(s);
    hashes.set(n.hash, i * 32);
    bytes.set(n.bytes, i * 65);
  });
  return { count: seeds.length, hashes, bytes };
}

describe('MemoryNodeStore specifics', () => {
  test('putPacked adopts packed batches; duplicates across and within batches count once', async () => {
    const s = new MemoryNodeStore();
    s.putPacked([pack([1, 2, 3, 2])]);
    await s.putMany([contractNode(3), contractNode(4)]);
    s.putPacked([pack([4, 5])]);
    expect(s.size).toBe(5);
    const got = await s.getMany([1, 2, 3, 4, 5].map((i) => contractNode(i).hash));
    got.forEach((b, i) => expect(Array.from(b!)).toEqual(Array.from(contractNode(i + 1).bytes)));
  });

  test('locateMany finds what getMany finds and reports the first missing hash', async () => {
    const s = new MemoryNodeStore();
    const seeds = Array.from({ length: 500 }, (_, i) => i * 3);
    await s.putMany(seeds.map(contractNode));
    // Hashes embedded at odd offsets inside one buffer, as the tree asks for children.
    const host = new Uint8Array(seeds.length * 33 + 1);
    seeds.forEach((seed, i) => host.set(contractNode(seed).hash, 1 + i * 33));
    const offs = Int32Array.from(seeds, (_, i) => 1 + i * 33);
    const bufs = seeds.map(() => host);
    const outBufs: Uint8Array[] = [];
    const outOffs = new Int32Array(seeds.length);
    expect(s.locateMany(bufs, offs, seeds.length, outBufs, outOffs)).toBe(-1);
    seeds.forEach((seed, i) => {
      expect(Array.from(outBufs[i]!.subarray(outOffs[i]!, outOffs[i]! + 65))).toEqual(Array.from(contractNode(seed).bytes));
    });
    host.set(contractNode(1).hash, 1 + 77 * 33); // seed 1 was never stored
    expect(s.locateMany(bufs, offs, seeds.length, outBufs, outOffs)).toBe(77);
  });

  test('the table grows across many segments without losing nodes', async () => {
    const s = new MemoryNodeStore();
    const total = 40_000; // more than two of putMany's own segments and many table doublings
    for (let start = 0; start < total; start += 7_000) {
      await s.putMany(Array.from({ length: Math.min(7_000, total - start) }, (_, i) => contractNode(start + i)));
    }
    expect(s.size).toBe(total);
    const probe = [0, 1, 16_383, 16_384, 16_385, 39_999];
    const got = await s.getMany(probe.map((i) => contractNode(i).hash));
    got.forEach((b, i) => expect(Array.from(b!)).toEqual(Array.from(contractNode(probe[i]!).bytes)));
  });

  test('refuses malformed nodes instead of storing them', async () => {
    const s = new MemoryNodeStore();
    await expect(s.putMany([{ hash: new Uint8Array(31), bytes: new Uint8Array(65) }])).rejects.toThrow();
    await expect(s.putMany([{ hash: new Uint8Array(32), bytes: new Uint8Array(64) }])).rejects.toThrow();
    expect(await s.getMany([new Uint8Array(31)])).toEqual([undefined]);
    expect(s.size).toBe(0);
  });
});

describe('MemoryNodeStore: batches applied in place', () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  /** The same store seen only through getMany/putMany: the tree takes the generic path. */
  const generic = (s: MemoryNodeStore): NodeStore => ({ getMany: (h) => s.getMany(h), putMany: (n) => s.putMany(n) });
  const writes = (from: number, to: number, tag: string) => Array.from({ length: to - from }, (_, i) => ({ key: `k/${from + i}`, value: { tag, i: from + i } }));

  test('a batch larger than a segment: same root as the generic path and the oracle; its nodes are held once', async () => {
    const mem = new MemoryNodeStore();
    const other = new MemoryNodeStore();
    const w = writes(0, 12_000, 'a'); // about 24,000 new nodes: more than one segment of 16,384
    const a = await new SparseMerkleTree(mem).apply(EMPTY_HASH, w);
    const b = await new SparseMerkleTree(generic(other)).apply(EMPTY_HASH, w);
    expect(hex(a.root)).toBe(hex(b.root));
    expect(hex(a.root)).toBe(hex(referenceRootOf(new Map(w.map((x) => [x.key, x.value])))));
    expect(a.packed.length).toBeGreaterThan(1);
    const made = a.packed.reduce((n, p) => n + p.count, 0);
    expect(made).toBe(b.nodes.length);
    expect(mem.size).toBe(made); // held as soon as apply returns
    mem.putPacked(a.packed);
    await mem.putMany(a.nodes);
    expect(mem.size).toBe(made); // putting them again adds nothing
    // Another store can take the packed views as they are.
    const copy = new MemoryNodeStore();
    copy.putPacked(a.packed);
    expect(copy.size).toBe(made);
    const tree = new SparseMerkleTree(copy);
    expect(await tree.getValueHash(a.root, 'k/11999')).toEqual(await new SparseMerkleTree(mem).getValueHash(a.root, 'k/11999'));
  });

  test('nodes that came in as bytes (putMany, small and large putPacked) are walked by links learned on the way', async () => {
    const source = new MemoryNodeStore();
    const gen = new SparseMerkleTree(generic(source));
    let root = EMPTY_HASH;
    const made: PackedNodes[] = [];
    for (const [from, to] of [[0, 3_000], [3_000, 3_010], [10, 20]] as const) {
      const r = await gen.apply(root, writes(from, to, 'b'));
      await source.putMany(r.nodes);
      made.push(...r.packed);
      root = r.root;
    }
    const byObjects = new MemoryNodeStore();
    await byObjects.putMany(made.flatMap((p) => Array.from({ length: p.count }, (_, i) => ({ hash: p.hashes.slice(i * 32, i * 32 + 32), bytes: p.bytes.slice(i * 65, i * 65 + 65) }))));
    const byPacked = new MemoryNodeStore();
    byPacked.putPacked(made); // the first batch is adopted, the small ones copied
    for (const store of [byObjects, byPacked]) {
      let r1 = root;
      let r2 = root;
      const inPlace = new SparseMerkleTree(store);
      for (const batch of [writes(5, 2_500, 'c'), [{ key: 'k/7', value: null }, { key: 'k/2999', value: null }, { key: 'new', value: 1 }]]) {
        const a = await inPlace.apply(r1, batch);
        const b = await gen.apply(r2, batch);
        await source.putMany(b.nodes);
        expect(hex(a.root)).toBe(hex(b.root));
        r1 = a.root;
        r2 = b.root;
      }
      for (const key of ['k/6', 'k/7', 'k/2999', 'new', 'absent']) expect(await inPlace.prove(r1, key)).toEqual(await gen.prove(r2, key));
      // The old roots still answer from the same store.
      expect(hex((await inPlace.getValueHash(root, 'k/7'))!)).toBe(hex((await gen.getValueHash(root, 'k/7'))!));
    }
  });

  test('nodes of in-place batches are found by hash whenever asked, though indexed only then', async () => {
    const mem = new MemoryNodeStore();
    const tree = new SparseMerkleTree(mem);
    let root = EMPTY_HASH;
    const made: StoredNode[] = [];
    for (let b = 0; b < 4; b++) {
      const r = await tree.apply(root, writes(b * 500, b * 500 + 700, `f${b}`));
      made.push(...r.nodes.map((n) => ({ hash: n.hash.slice(), bytes: n.bytes.slice() })));
      root = r.root;
    }
    // Reads by links (proofs from the root) and reads by hash (any node, old or new) agree.
    const proof = await tree.prove(root, 'k/1234');
    expect(proof.leaf?.path).toBeDefined();
    const sample = [made[0]!, made[made.length >> 1]!, made[made.length - 2]!];
    const got = await mem.getMany(sample.map((n) => n.hash));
    got.forEach((b, i) => expect(hex(b!)).toBe(hex(sample[i]!.bytes)));
    // Every node counted once, also when copies of deferred nodes are put.
    const distinct = new Set(made.map((n) => hex(n.hash))).size;
    const fresh = new MemoryNodeStore();
    const t2 = new SparseMerkleTree(fresh);
    let r2 = EMPTY_HASH;
    for (let b = 0; b < 4; b++) {
      const r = await t2.apply(r2, writes(b * 500, b * 500 + 700, `f${b}`));
      await fresh.putMany(made.slice(0, 100)); // copies of nodes held, deferred or not
      r2 = r.root;
    }
    expect(hex(r2)).toBe(hex(root));
    expect(fresh.size).toBe(distinct);
    expect(mem.size).toBe(distinct);
  });

  test('a node missing under the root fails the batch with missing_node and indexes nothing', async () => {
    const full = new MemoryNodeStore();
    const r = await new SparseMerkleTree(generic(full)).apply(EMPTY_HASH, writes(0, 50, 'd'));
    // Keep every node but one leaf.
    const nodes = r.nodes.filter((n) => n.bytes[0] !== 0 || n !== r.nodes.find((m) => m.bytes[0] === 0));
    const partial = new MemoryNodeStore();
    await partial.putMany(nodes);
    const before = partial.size;
    const tree = new SparseMerkleTree(partial);
    const all = writes(0, 50, 'e');
    await expect(tree.apply(r.root, all)).rejects.toMatchObject({ code: 'missing_node' });
    expect(partial.size).toBe(before);
    await expect(tree.apply(new Uint8Array(32).fill(7), all)).rejects.toMatchObject({ code: 'missing_node' });
    await expect(tree.applyHashed(new Uint8Array(31), [{ path: new Uint8Array(32).fill(1), valueHash: new Uint8Array(32) }])).rejects.toMatchObject({ code: 'invalid_length' });
  });
});
