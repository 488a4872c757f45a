/**
 * A MemoryNodeStore with a helper thread (src/platform/tree-helper.ts, src/core/smt/apply-side.ts)
 * must give exactly the roots, proofs and values of a store working alone, in every path: the
 * helper's part imported, its part walked here because it could not finish (a link only the store
 * can look up, too little arena), a closed helper, and an error on this thread's part. Real
 * threads, real shared memory.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { EMPTY_HASH, type Hash32 } from '../../src/core/hash.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { MemoryNodeStore } from '../../src/core/smt/memory-store.ts';
import type { NodeStore } from '../../src/core/smt/node-store.ts';
import { SparseMerkleTree, type TreeWrite } from '../../src/core/smt/tree.ts';
import { SideSpace, type SideHelper } from '../../src/core/smt/apply-side.ts';
import { CLAIM_HELPER, SIDE_ARENA_FULL, SIDE_DONE, SIDE_FAILED } from '../../src/core/smt/node-ids.ts';
import { selectSha256, treeHashOptions } from '../../src/platform/sha256.ts';
import { startTreeHelper, type TreeHelper } from '../../src/platform/tree-helper.ts';
import { referenceRootOf } from './smt-helpers.ts';

const sha = selectSha256();
const opts = treeHashOptions(sha);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const helpers: TreeHelper[] = [];
/** A helper whose thread has loaded: batches from now on are shared with it. */
async function helper(share?: number): Promise<TreeHelper> {
  const h = startTreeHelper(share === undefined ? {} : { share });
  if (h === null) throw new Error('Bun runs tree helpers');
  helpers.push(h);
  expect(await h.ready).toBe(true);
  return h;
}
afterAll(() => helpers.forEach((h) => h.close()));

/** The same batches against a store alone and a helped one, comparing each root. */
async function sameRoots(helped: MemoryNodeStore, batches: TreeWrite[][], alone: NodeStore = new MemoryNodeStore()): Promise<{ a: Hash32; b: Hash32; ta: SparseMerkleTree; tb: SparseMerkleTree }> {
  const ta = new SparseMerkleTree(alone, opts);
  const tb = new SparseMerkleTree(helped, opts);
  let a = EMPTY_HASH;
  let b = EMPTY_HASH;
  for (const w of batches) {
    a = (await ta.apply(a, w)).root;
    b = (await tb.apply(b, w)).root;
    expect(hex(b)).toBe(hex(a));
  }
  return { a, b, ta, tb };
}

const writes = (from: number, to: number, tag: string, step = 1): TreeWrite[] =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => ({ key: `k/${from + i * step}`, value: { tag, i } }));

/**
 * A helper on this thread (the real SideSpace walk) at one end of the claiming: it walks its
 * whole offer the moment it is sent, before this thread claims any of it, or only once this
 * thread waits, when this thread has claimed everything and nothing is left for it. Unlike a
 * thread's, what it takes does not depend on timing, so tests of its failures are deterministic.
 * `answers` keeps each job's final state.
 */
function inThreadHelper(when: 'at start' | 'when waited for'): SideHelper & { claimed: number; answers: number[] } {
  const space = new SideSpace(opts.hashInto!);
  return {
    claimed: 0,
    answers: [],
    start(job) {
      if (when === 'at start') space.run(job);
      return true;
    },
    wait(job) {
      if (when === 'when waited for') space.run(job);
      this.claimed += job.claims.filter((c) => c === CLAIM_HELPER).length;
      this.answers.push(job.out[0]!);
      return true;
    },
  };
}

describe('claiming subtrees from both ends', () => {
  for (const when of ['at start', 'when waited for'] as const) {
    test(`a helper that walks ${when}: the roots of a store alone, and the writes walked where expected`, async () => {
      const h = inThreadHelper(when);
      const helped = new MemoryNodeStore({ helper: h });
      await sameRoots(helped, [writes(0, 20_000, 'a'), writes(0, 20_000, 'b', 2), writes(1, 20_000, 'c', 3), writes(0, 9_000, 'd')]);
      expect(helped.helped.batches).toBe(3);
      if (when === 'at start') {
        // It took everything offered: 70% of each batch by default, give or take a subtree.
        expect(helped.helped.helperWrites / helped.helped.writes).toBeGreaterThan(0.6);
        expect(helped.helped.helperWrites / helped.helped.writes).toBeLessThanOrEqual(0.7);
      } else {
        expect(h.claimed).toBe(0);
        expect(helped.helped.helperWrites).toBe(0);
      }
    });
  }
});

describe('MemoryNodeStore with a helper thread', () => {
  test('large batches of inserts, updates, deletes and no-ops: the roots, proofs and values of a store alone', async () => {
    const h = await helper();
    const helped = new MemoryNodeStore({ helper: h });
    const batches = [
      writes(0, 20_000, 'a'),
      writes(0, 20_000, 'b', 3), // updates
      [...writes(0, 6_000, 'x', 2).map((w) => ({ key: w.key, value: null })), ...writes(20_000, 24_000, 'c')], // deletes and inserts
      writes(1, 6_000, 'b', 3).concat(writes(3, 3_000, 'b', 3)), // mostly rewrites of the same values: no-ops
    ];
    const { a, b, ta, tb } = await sameRoots(helped, batches);
    expect(h.stats.jobs).toBeGreaterThanOrEqual(3);
    expect(h.stats.unfinished).toBe(0);
    // Both threads walked part of each batch.
    expect(helped.helped.batches).toBe(h.stats.jobs);
    expect(helped.helped.helperWrites).toBeGreaterThan(0);
    expect(helped.helped.helperWrites).toBeLessThan(helped.helped.writes);
    const keys = ['k/0', 'k/1', 'k/3', 'k/5999', 'k/19998', 'k/23999', 'absent'];
    expect(await tb.proveMany(b, keys)).toEqual(await ta.proveMany(a, keys));
    for (const k of keys) expect(await tb.getValueHash(b, k)).toEqual(await ta.getValueHash(a, k));
    // Nodes of the helper's part are found by hash too, and counted once.
    expect(helped.size).toBeGreaterThan(0);
    const first = (await tb.apply(EMPTY_HASH, batches[0]!)).root;
    expect(await tb.getValueHash(first, 'k/19999')).toEqual(await ta.getValueHash(first, 'k/19999'));
  });

  test('any writes, any batching, any share: the same roots as alone and as the SPEC §4 oracle (property)', async () => {
    const h = await helper(0.5);
    const key = fc.integer({ min: 0, max: 400 }).map((i) => `p/${i}`);
    const value = fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 3 }), fc.string({ maxLength: 3 })) as fc.Arbitrary<JsonValue | null>;
    const batch = fc.array(fc.record({ key, value }), { minLength: 1, maxLength: 120 });
    await fc.assert(
      fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 6 }), async (batches) => {
        // Every batch of 2+ writes goes to the helper, so small trees (whose top ends above the
        // split depth) and empty sides are covered.
        const helped = new MemoryNodeStore({ helper: h, helpedMinWrites: 2 });
        const { b } = await sameRoots(helped, batches);
        const state = new Map<string, JsonValue>();
        for (const w of batches.flat()) (w.value === null ? state.delete(w.key) : state.set(w.key, w.value));
        expect(hex(b)).toBe(hex(referenceRootOf(state)));
      }),
      { numRuns: 60 },
    );
    expect(h.stats.jobs).toBeGreaterThan(60);
    expect(h.stats.unfinished).toBe(0);
  });

  // The helper's failures below run on an in-thread helper that takes its whole offer: with a
  // thread, a helper that comes late claims nothing and never meets what makes it fail.
  test('nodes that came in as bytes: the helper cannot look their links up, so that part is walked here', async () => {
    const source = new MemoryNodeStore();
    const base = await new SparseMerkleTree(source, opts).apply(EMPTY_HASH, writes(0, 8_000, 'a'));
    const h = inThreadHelper('at start');
    const helped = new MemoryNodeStore({ helper: h });
    await helped.putMany(base.nodes.map((n) => ({ hash: n.hash.slice(), bytes: n.bytes.slice() })));
    const alone = new MemoryNodeStore();
    alone.putPacked(base.packed);
    const ta = new SparseMerkleTree(alone, opts);
    const tb = new SparseMerkleTree(helped, opts);
    let a = base.root;
    let b = base.root;
    for (const tag of ['b', 'c', 'd']) {
      const w = writes(0, 8_000, tag, 2);
      a = (await ta.apply(a, w)).root;
      b = (await tb.apply(b, w)).root;
      expect(hex(b)).toBe(hex(a));
    }
    // The first job met unknown links; this thread learned them walking that part, so later jobs finish.
    expect(h.answers[0]).toBe(SIDE_FAILED);
    expect(h.answers.filter((s) => s === SIDE_DONE).length).toBeGreaterThanOrEqual(1);
  });

  test('too little arena: the part is walked here, the arena grows, and later jobs finish', async () => {
    const h = inThreadHelper('at start');
    const helped = new MemoryNodeStore({ helper: h, helperArenaPerWrite: 1 });
    const batches = [writes(0, 30_000, 'a'), writes(0, 30_000, 'b', 2), writes(0, 30_000, 'c', 3), writes(1, 30_000, 'd', 3), writes(2, 30_000, 'e', 3)];
    await sameRoots(helped, batches);
    expect(h.answers.filter((s) => s === SIDE_ARENA_FULL).length).toBeGreaterThanOrEqual(1);
    expect(h.answers.filter((s) => s === SIDE_DONE).length).toBeGreaterThanOrEqual(1);
    expect(helped.helped.helperWrites).toBeGreaterThan(0);
  });

  test('until its thread has loaded, batches are applied alone; no batch waits for it', async () => {
    const h = startTreeHelper()!;
    helpers.push(h);
    const helped = new MemoryNodeStore({ helper: h });
    const batches = [writes(0, 10_000, 'a'), writes(0, 10_000, 'b')];
    const { b, tb } = await sameRoots(helped, batches); // no event-loop turn: the thread's message is not in yet
    expect(h.stats.jobs).toBe(0);
    expect(helped.helped.batches).toBe(0);
    expect(await h.ready).toBe(true);
    const next = await tb.apply(b, writes(0, 10_000, 'c'));
    expect(h.stats.jobs).toBe(1);
    const alone = new SparseMerkleTree(new MemoryNodeStore(), opts);
    let a = EMPTY_HASH;
    for (const w of [...batches, writes(0, 10_000, 'c')]) a = (await alone.apply(a, w)).root;
    expect(hex(next.root)).toBe(hex(a));
  });

  test('a closed helper: the store works alone with the same roots', async () => {
    const h = await helper();
    const helped = new MemoryNodeStore({ helper: h });
    const tb = new SparseMerkleTree(helped, opts);
    const r1 = await tb.apply(EMPTY_HASH, writes(0, 10_000, 'a'));
    h.close();
    const alone = new SparseMerkleTree(new MemoryNodeStore(), opts);
    const a1 = await alone.apply(EMPTY_HASH, writes(0, 10_000, 'a'));
    const a2 = await alone.apply(a1.root, writes(0, 10_000, 'b'));
    const r2 = await tb.apply(r1.root, writes(0, 10_000, 'b'));
    expect(hex(r2.root)).toBe(hex(a2.root));
    expect(h.stats.jobs).toBe(0); // the first batch's root was empty: nothing to share
  });

  test('an error on this thread’s part waits for the helper, fails the batch, and leaves the store usable', async () => {
    // A tree whose nodes came in as bytes, missing one leaf on the left side.
    const full = await new SparseMerkleTree(new MemoryNodeStore(), opts).apply(EMPTY_HASH, writes(0, 6_000, 'a'));
    const isLeftLeaf = (b: Uint8Array) => b[0] === 0 && (b[1]! & 0x80) === 0;
    const dropped = full.nodes.find((n) => isLeftLeaf(n.bytes))!;
    const h = await helper(0.5);
    const helped = new MemoryNodeStore({ helper: h });
    await helped.putMany(full.nodes.filter((n) => n !== dropped).map((n) => ({ hash: n.hash.slice(), bytes: n.bytes.slice() })));
    const tb = new SparseMerkleTree(helped, opts);
    await expect(tb.apply(full.root, writes(0, 6_000, 'b'))).rejects.toMatchObject({ code: 'missing_node' });
    // The store still applies batches that do not need the missing leaf.
    const rightOnly = writes(0, 6_000, 'c').filter((w) => (sha.hash(new TextEncoder().encode(w.key))[0]! & 0x80) !== 0);
    const alone = new MemoryNodeStore();
    alone.putPacked(full.packed);
    const a = await new SparseMerkleTree(alone, opts).apply(full.root, rightOnly);
    const b = await tb.apply(full.root, rightOnly);
    expect(hex(b.root)).toBe(hex(a.root));
  });

  test('batches applied concurrently on one helped store each get their own root', async () => {
    const h = await helper();
    const helped = new MemoryNodeStore({ helper: h });
    const tb = new SparseMerkleTree(helped, opts);
    const base = await tb.apply(EMPTY_HASH, writes(0, 12_000, 'a'));
    const [x, y] = await Promise.all([tb.apply(base.root, writes(0, 12_000, 'x')), tb.apply(base.root, writes(0, 12_000, 'y'))]);
    const alone = new SparseMerkleTree(new MemoryNodeStore(), opts);
    const b0 = await alone.apply(EMPTY_HASH, writes(0, 12_000, 'a'));
    expect(hex(x.root)).toBe(hex((await alone.apply(b0.root, writes(0, 12_000, 'x'))).root));
    expect(hex(y.root)).toBe(hex((await alone.apply(b0.root, writes(0, 12_000, 'y'))).root));
    expect(h.stats.jobs).toBe(2);
  });
});
