import { describe, expect, test } from 'bun:test';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { DstpError } from '../../src/core/errors.ts';
import { EMPTY_HASH, type Hash32 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import { jcs, type JsonValue } from '../../src/core/jcs.ts';
import { MemoryNodeStore, nodesOf } from '../helpers/memory-node-store.ts';
import { NO_REF, newIndex, type StoredNode } from '../../src/core/smt/node-store.ts';
import { SparseMerkleTree, type HashedWrite, type TreeWrite } from '../../src/core/smt/tree.ts';
import { isValidProof, verifyProof } from '../../src/core/smt/verify.ts';
import { CachedNodeStore } from '../../src/store/cached-node-store.ts';
import { TreeFixture, referenceRoot, referenceRootOf } from './smt-helpers.ts';

const hex = toHex;
const keyArb = fc.string({ maxLength: 10 });
const valueArb = fc.jsonValue({ maxDepth: 2 }).filter((v) => v !== null) as fc.Arbitrary<JsonValue>;
const RUNS = { numRuns: 60 };

async function buildRoot(f: TreeFixture, batches: TreeWrite[][], root: Hash32 = EMPTY_HASH): Promise<Hash32> {
  for (const b of batches) root = await f.write(root, b);
  return root;
}

function splitInto<T>(items: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (let s = 0; i < items.length; s++) {
    const n = Math.max(1, sizes[s % Math.max(1, sizes.length)] ?? 1);
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

/**
 * Paths that share long prefixes, so chains of one-sided inner nodes, leaves deep in the tree
 * and leaves moving up on delete all occur (random SHA-256 paths almost never share 20 bits).
 */
const craftedPathsArb = fc
  .record({
    base: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    forks: fc.array(fc.record({ at: fc.integer({ min: 0, max: 255 }), tail: fc.uint8Array({ minLength: 32, maxLength: 32 }) }), {
      maxLength: 24,
    }),
  })
  .map(({ base, forks }) => {
    const seen = new Map<string, Uint8Array>([[hex(base), base]]);
    for (const { at, tail } of forks) {
      const p = base.slice();
      const byte = at >> 3;
      const mask = 0x80 >> (at & 7);
      p[byte]! ^= mask; // differ from base exactly at bit `at` …
      p[byte] = (p[byte]! & ~(mask - 1)) | (tail[byte]! & (mask - 1)); // … and anything after it
      for (let i = byte + 1; i < 32; i++) p[i] = tail[i]!;
      seen.set(hex(p), p);
    }
    return [...seen.values()];
  });

describe('SparseMerkleTree agrees with the SPEC §4 oracle', () => {
  test('crafted paths with long shared prefixes, applied in batches with deletes', async () => {
    await fc.assert(
      fc.asyncProperty(craftedPathsArb, fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.integer(), async (paths, sizes, seed) => {
        const store = new MemoryNodeStore();
        const tree = new SparseMerkleTree(store);
        const vh = (i: number) => nobleSha256(utf8(`v${i}:${seed}`));
        const model = new Map<string, { path: Uint8Array; valueHash: Uint8Array }>();
        // Insert all, then delete every other path, then re-insert a few with new values.
        const writes: HashedWrite[] = paths.map((path, i) => ({ path, valueHash: vh(i) }));
        const deletes: HashedWrite[] = paths.filter((_, i) => i % 2 === 1).map((path) => ({ path, valueHash: null }));
        const back: HashedWrite[] = paths.filter((_, i) => i % 3 === 1).map((path, i) => ({ path, valueHash: vh(1000 + i) }));
        let root = EMPTY_HASH;
        for (const phase of [writes, deletes, back]) {
          for (const b of splitInto(phase, sizes)) {
            const r = await tree.applyHashed(root, b);
            await store.putMany(r);
            root = r.root;
            for (const w of b) {
              if (w.valueHash === null) model.delete(hex(w.path));
              else model.set(hex(w.path), { path: w.path, valueHash: w.valueHash });
            }
            expect(hex(root)).toBe(hex(referenceRoot(model.values())));
          }
        }
      }),
      RUNS,
    );
  }, 30_000);

  test('two leaves that differ only in the last bit sit at depth 256; deleting one lifts the other to the root', async () => {
    const store = new MemoryNodeStore();
    const tree = new SparseMerkleTree(store);
    const a = new Uint8Array(32).fill(0xa5);
    const b = a.slice();
    b[31]! ^= 1;
    const va = nobleSha256(utf8('a'));
    const vb = nobleSha256(utf8('b'));
    const r1 = await tree.applyHashed(EMPTY_HASH, [
      { path: a, valueHash: va },
      { path: b, valueHash: vb },
    ]);
    await store.putMany(r1);
    expect(hex(r1.root)).toBe(hex(referenceRoot([{ path: a, valueHash: va }, { path: b, valueHash: vb }])));
    expect(nodesOf(r1).length).toBe(2 + 256); // two leaves and a chain of 256 inner nodes
    // A one-write batch that descends the whole 256-level chain (its task list must grow).
    const vb2 = nobleSha256(utf8('b2'));
    const r1b = await tree.applyHashed(r1.root, [{ path: b, valueHash: vb2 }]);
    expect(hex(r1b.root)).toBe(hex(referenceRoot([{ path: a, valueHash: va }, { path: b, valueHash: vb2 }])));
    expect(nodesOf(r1b).length).toBe(1 + 256);
    const r2 = await tree.applyHashed(r1.root, [{ path: b, valueHash: null }]);
    expect(hex(r2.root)).toBe(hex(referenceRoot([{ path: a, valueHash: va }])));
    expect(nodesOf(r2).length).toBe(0); // the old leaf just moves up
  });

  test('any insertion order and any batching give the oracle root', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
        async (entries, sizes) => {
          const writes = entries.map(([key, value]) => ({ key, value }));
          const want = hex(referenceRootOf(new Map(entries)));
          expect(hex(await buildRoot(new TreeFixture(), [writes]))).toBe(want);
          expect(hex(await buildRoot(new TreeFixture(), splitInto([...writes].reverse(), sizes)))).toBe(want);
          expect(hex(await buildRoot(new TreeFixture(), writes.map((w) => [w])))).toBe(want);
        },
      ),
      RUNS,
    );
  });

  test('deleting the keys just inserted restores the previous root', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }),
        async (entries, cut, sizes) => {
          const base = entries.slice(0, cut).map(([key, value]) => ({ key, value }));
          const extra = entries.slice(cut).map(([key, value]) => ({ key, value }));
          const f = new TreeFixture();
          const before = await f.write(EMPTY_HASH, base);
          const grown = await buildRoot(f, splitInto(extra, sizes), before);
          const back = await buildRoot(f, splitInto(extra.map((w) => ({ key: w.key, value: null })), [...sizes].reverse()), grown);
          expect(hex(back)).toBe(hex(before));
        },
      ),
      RUNS,
    );
  });

  test('the cached path (nodes read synchronously from the node cache) and the generic async path (getMany per level) make the same nodes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.option(valueArb, { nil: null })), { maxLength: 12 }), { maxLength: 6 }),
        async (batches) => {
          const stores = [new CachedNodeStore(new MemoryNodeStore()), new MemoryNodeStore()];
          const trees = stores.map((s) => new SparseMerkleTree(s));
          const roots = [EMPTY_HASH, EMPTY_HASH];
          for (const batch of batches) {
            const writes = batch.map(([i, value]) => ({ key: `k${i}`, value }));
            const out = await Promise.all(trees.map((t, i) => t.apply(roots[i]!, writes)));
            expect(hex(out[1]!.root)).toBe(hex(out[0]!.root));
            expect(nodesOf(out[1]!).map((n) => hex(n.bytes))).toEqual(nodesOf(out[0]!).map((n) => hex(n.bytes)));
            await Promise.all(stores.map((s, i) => s.putMany(out[i]!)));
            out.forEach((r, i) => (roots[i] = r.root));
            for (const { key } of writes.slice(0, 4)) {
              const got = await Promise.all(trees.map((t, i) => t.getValueHash(roots[i]!, key)));
              const proofs = await Promise.all(trees.map((t, i) => t.prove(roots[i]!, key)));
              expect(got[1] === null ? null : hex(got[1]!)).toBe(got[0] === null ? null : hex(got[0]!));
              expect(proofs[1]).toEqual(proofs[0]!);
            }
          }
        },
      ),
      RUNS,
    );
  });
});

describe('model test: random batches against a plain Map, proving every key', () => {
  test('roots, value hashes and proofs follow the model; historical roots keep answering', async () => {
    const universe = Array.from({ length: 14 }, (_, i) => `acct/${i}`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 13 }), fc.option(valueArb, { nil: null })), { maxLength: 10 }), {
          minLength: 1,
          maxLength: 8,
        }),
        async (batches) => {
          const f = new TreeFixture();
          const model = new Map<string, JsonValue>();
          const history: { root: Hash32; snapshot: Map<string, JsonValue> }[] = [];
          let root = EMPTY_HASH;
          for (const batch of batches) {
            const writes = batch.map(([i, value]) => ({ key: universe[i]!, value }));
            root = await f.write(root, writes);
            for (const w of writes) (w.value === null ? model.delete(w.key) : model.set(w.key, w.value));
            expect(hex(root)).toBe(hex(referenceRootOf(model)));
            const proofs = await f.tree.proveMany(root, universe);
            for (let k = 0; k < universe.length; k++) {
              const key = universe[k]!;
              const expected = model.has(key) ? { key, root: hex(root), value: model.get(key)! } : { key, root: hex(root) };
              verifyProof(proofs[k]!, expected);
              const vh = await f.tree.getValueHash(root, key);
              expect(vh === null ? null : hex(vh)).toBe(model.has(key) ? hex(nobleSha256(utf8(jcs(model.get(key)!)))) : null);
            }
            history.push({ root, snapshot: new Map(model) });
          }
          for (const { root: old, snapshot } of history) {
            for (const key of universe.slice(0, 5)) {
              const p = await f.tree.prove(old, key);
              verifyProof(p, snapshot.has(key) ? { key, root: hex(old), value: snapshot.get(key)! } : { key, root: hex(old) });
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('proof soundness', () => {
  const entriesArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, minLength: 1, maxLength: 30 });

  test('an inclusion proof verifies for its value and fails for any other value or for absence', async () => {
    await fc.assert(
      fc.asyncProperty(entriesArb, fc.nat(), valueArb, async (entries, pick, other) => {
        const f = new TreeFixture();
        const root = await f.write(EMPTY_HASH, entries.map(([key, value]) => ({ key, value })));
        const [key, value] = entries[pick % entries.length]!;
        const proof = await f.tree.prove(root, key);
        verifyProof(proof, { key, value, root: hex(root) });
        if (jcs(other) !== jcs(value)) expect(isValidProof(proof, { key, value: other, root: hex(root) })).toBe(false);
        expect(isValidProof(proof, { key, root: hex(root) })).toBe(false);
      }),
      RUNS,
    );
  });

  test('exclusion proofs verify for absent keys and cannot be relabelled to prove a present key absent', async () => {
    await fc.assert(
      fc.asyncProperty(entriesArb, fc.uniqueArray(keyArb, { maxLength: 8 }), async (entries, probes) => {
        const f = new TreeFixture();
        const root = await f.write(EMPTY_HASH, entries.map(([key, value]) => ({ key, value })));
        const present = new Map(entries);
        const absent = probes.filter((k) => !present.has(k));
        const exclusions = await f.tree.proveMany(root, absent);
        exclusions.forEach((p, i) => {
          verifyProof(p, { key: absent[i]!, root: hex(root) });
          expect(isValidProof(p, { key: absent[i]!, value: 1, root: hex(root) })).toBe(false);
        });
        // Take every proof the node could hand out and claim it for a present key.
        const inclusions = await f.tree.proveMany(root, [...present.keys()]);
        for (const key of present.keys()) {
          for (const forged of [...exclusions, ...inclusions].filter((p) => p.key !== key)) {
            expect(isValidProof({ ...forged, key }, { key, root: hex(root) })).toBe(false);
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('batch semantics and outputs', () => {
  test('the last write to a key in a batch wins; null deletes', async () => {
    const f = new TreeFixture();
    const root = await f.write(EMPTY_HASH, [
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
      { key: 'a', value: 3 },
      { key: 'b', value: null },
      { key: 'c', value: null },
    ]);
    expect(hex(root)).toBe(hex(referenceRootOf(new Map([['a', 3]]))));
  });

  test('an empty batch and deletes of absent keys keep the root and create nothing', async () => {
    const f = new TreeFixture();
    const root = await f.write(EMPTY_HASH, [
      { key: 'x', value: 'y' },
      { key: 'z', value: [1] },
    ]);
    const same = await f.tree.apply(root, []);
    expect(hex(same.root)).toBe(hex(root));
    const noop = await f.tree.apply(root, [{ key: 'absent', value: null }]);
    expect(hex(noop.root)).toBe(hex(root));
    expect(nodesOf(noop)).toEqual([]);
    expect(hex((await f.tree.apply(EMPTY_HASH, [{ key: 'q', value: null }])).root)).toBe(hex(EMPTY_HASH));
    const rewrite = await f.tree.apply(root, [{ key: 'z', value: [1] }]);
    expect(hex(rewrite.root)).toBe(hex(root));
    expect(nodesOf(rewrite)).toEqual([]); // the same value again changes nothing
  });

  test('outputs are content-addressed and linked children first, values are canonical and distinct', async () => {
    const tree = new SparseMerkleTree(new MemoryNodeStore());
    const r = await tree.apply(EMPTY_HASH, [
      { key: 'a', value: { b: 1, a: [true, 'x'] } },
      { key: 'b', value: { a: [true, 'x'], b: 1 } },
      { key: 'c', value: 7 },
    ]);
    for (const n of nodesOf(r)) {
      expect(n.bytes.length).toBe(65);
      expect(hex(nobleSha256(n.bytes))).toBe(hex(n.hash));
    }
    // Children come before parents, and a parent names each new child by its index in the batch.
    const all = nodesOf(r);
    let k = 0;
    for (const p of r.packed) {
      for (let i = 0; i < p.count; i++, k++) {
        const kids = [p.kids[2 * i]!, p.kids[2 * i + 1]!];
        if (all[k]!.bytes[0] === 0) expect(kids).toEqual([NO_REF, NO_REF]);
        else
          kids.forEach((ref, side) => {
            const child = all[k]!.bytes.subarray(1 + 32 * side, 33 + 32 * side);
            if (child.every((b) => b === 0)) return expect(ref).toBe(NO_REF);
            expect(newIndex(ref)).toBeGreaterThanOrEqual(0);
            expect(newIndex(ref)).toBeLessThan(k);
            expect(hex(all[newIndex(ref)]!.hash)).toBe(hex(child));
          });
      }
    }
    expect(hex(all[newIndex(r.rootRef)]!.hash)).toBe(hex(r.root));
    expect(r.values.map((v) => new TextDecoder().decode(v.bytes)).sort()).toEqual(['7', '{"a":[true,"x"],"b":1}']);
    for (const v of r.values) expect(hex(nobleSha256(v.bytes))).toBe(hex(v.hash));
  });

  test('batches in flight at the same time give what they give one after another', async () => {
    // The async path awaits between levels, so several batches interleave: each must keep its
    // own task memory (a finished batch hands its array on to the next one that starts).
    const base = new MemoryNodeStore();
    const seed = await new SparseMerkleTree(base).apply(
      EMPTY_HASH,
      Array.from({ length: 400 }, (_, i) => ({ key: `seed${i}`, value: i })),
    );
    await base.putMany(seed);
    const batches = Array.from({ length: 6 }, (_, b) =>
      Array.from({ length: 50 + b * 37 }, (_, i) => ({ key: `seed${(i * 7 + b * 13) % 450}`, value: i % 5 === 0 ? null : { b, i } })),
    );
    const tree = new SparseMerkleTree(base);
    const alone: string[][] = [];
    for (const w of batches) {
      const r = await tree.apply(seed.root, w);
      alone.push([hex(r.root), ...nodesOf(r).map((n) => hex(n.hash))]);
    }
    const together = await Promise.all(batches.map((w) => tree.apply(seed.root, w)));
    expect(together.map((r) => [hex(r.root), ...nodesOf(r).map((n) => hex(n.hash))])).toEqual(alone);
    expect(new Set(alone.map((a) => a[0])).size).toBe(batches.length);
  });

  test('a node missing from the store is reported as missing_node', async () => {
    const f = new TreeFixture();
    const root = await f.write(EMPTY_HASH, [
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    const cached = new SparseMerkleTree(new CachedNodeStore(new MemoryNodeStore()));
    const generic = new SparseMerkleTree(new MemoryNodeStore());
    for (const t of [cached, generic]) {
      const err = await t.apply(root, [{ key: 'c', value: 3 }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DstpError);
      expect((err as DstpError).code).toBe('missing_node');
      await expect(t.prove(root, 'a')).rejects.toThrow('missing');
    }
  });

  test('keys with lone surrogates are refused (UTF-8 would merge them with U+FFFD)', async () => {
    const f = new TreeFixture();
    const err = await f.tree.apply(EMPTY_HASH, [{ key: 'bad\uD800', value: 1 }]).catch((e: unknown) => e);
    expect((err as DstpError).code).toBe('invalid_state_key');
    await expect(f.tree.prove(EMPTY_HASH, '\uDC00')).rejects.toThrow('surrogate');
  });

  test('a native-style hashInto gives the same roots and nodes as the default', async () => {
    const writes = Array.from({ length: 200 }, (_, i) => ({ key: `n/${i}`, value: i % 5 === 0 ? null : { i } }));
    const plainTree = new SparseMerkleTree(new MemoryNodeStore());
    const intoTree = new SparseMerkleTree(new MemoryNodeStore(), {
      hash: (d) => nobleSha256(d),
      hashInto: (d, out) => out.set(nobleSha256(d)),
    });
    const a = await plainTree.apply(EMPTY_HASH, writes);
    const b = await intoTree.apply(EMPTY_HASH, writes);
    expect(hex(a.root)).toBe(hex(b.root));
    expect(nodesOf(a).map((n: StoredNode) => hex(n.hash))).toEqual(nodesOf(b).map((n: StoredNode) => hex(n.hash)));
  });

  test('proveMany answers duplicates and order as asked', async () => {
    const f = new TreeFixture();
    const root = await f.write(EMPTY_HASH, [
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    const ps = await f.tree.proveMany(root, ['b', 'zz', 'a', 'b']);
    expect(ps.map((p) => p.key)).toEqual(['b', 'zz', 'a', 'b']);
    expect(ps[0]).toEqual(ps[3]!);
    expect(ps[0]).toEqual(await f.tree.prove(root, 'b'));
  });
});
