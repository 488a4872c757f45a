import { describe, expect, test } from 'bun:test';
import { MemoryNodeStore } from '../../src/core/smt/memory-store.ts';
import type { PackedNodes } from '../../src/core/smt/node-store.ts';
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
