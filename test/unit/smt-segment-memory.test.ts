/**
 * SegmentMemory (src/core/smt/segment-memory.ts): pieces carved from growing blocks, `ahead`
 * naming exactly the memory later pieces come from, `faultIn` never changing a byte even while
 * another thread writes the same memory, and the huge-page block source of src/platform.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { EMPTY_HASH } from '../../src/core/hash.ts';
import { MemoryNodeStore } from '../../src/core/smt/memory-store.ts';
import { FIRST_BLOCK_BYTES, MAX_BLOCK_BYTES, SegmentMemory, faultIn, plainBlocks, type BlockSource } from '../../src/core/smt/segment-memory.ts';
import { SparseMerkleTree, type TreeWrite } from '../../src/core/smt/tree.ts';
import { hugePageBlocks } from '../../src/platform/huge-pages.ts';
import { selectSha256, treeHashOptions } from '../../src/platform/sha256.ts';
import { startTreeHelper } from '../../src/platform/tree-helper.ts';

/** A block source that records the blocks it gave. */
function recording(shared: boolean): { source: BlockSource; blocks: Uint8Array[] } {
  const blocks: Uint8Array[] = [];
  const plain = plainBlocks(shared);
  return { blocks, source: (n) => (blocks.push(plain(n)), blocks.at(-1)!) };
}
/** Whether a view is all zero (natively: the pieces add up to hundreds of MiB). */
const zeros = new Uint8Array(MAX_BLOCK_BYTES + 64);
const allZero = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.length).equals(Buffer.from(zeros.buffer, 0, p.length));
/** Whether two views share any byte. */
const overlap = (a: Uint8Array, b: Uint8Array) => a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;

describe('SegmentMemory', () => {
  test('pieces are zeroed, 64-byte aligned, disjoint, and come from blocks that double up to the largest size', () => {
    const { source, blocks } = recording(false);
    const mem = new SegmentMemory(source, false);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const p = mem.take(1_000_000 + (i % 7) * 13);
      expect(p.length).toBe(1_000_000 + (i % 7) * 13);
      expect(p.byteOffset % 64).toBe(0);
      expect(allZero(p)).toBe(true);
      p.fill(0xab);
      pieces.push(p);
    }
    for (let i = 1; i < pieces.length; i++) expect(overlap(pieces[i - 1]!, pieces[i]!)).toBe(false);
    expect(blocks.map((b) => b.length).slice(0, 6)).toEqual([FIRST_BLOCK_BYTES, FIRST_BLOCK_BYTES * 2, FIRST_BLOCK_BYTES * 4, FIRST_BLOCK_BYTES * 8, MAX_BLOCK_BYTES, MAX_BLOCK_BYTES]);
    expect(mem.taken).toBe(pieces.reduce((s, p) => s + p.length, 0));
    // A piece larger than a block gets a block of its own.
    expect(mem.take(MAX_BLOCK_BYTES + 5).length).toBe(MAX_BLOCK_BYTES + 5);
  });

  test('ahead names the memory the next pieces come from, across a block boundary', () => {
    const { source, blocks } = recording(false);
    const mem = new SegmentMemory(source, false);
    mem.take(3_000_000); // 1 MiB or so left in the first block
    const views = mem.ahead(6_000_000);
    expect(views).toHaveLength(2);
    expect(blocks).toHaveLength(2); // the next block was made early, for the helper to fault in
    expect(views[0]!.buffer).toBe(blocks[0]!.buffer);
    expect(views[1]!.buffer).toBe(blocks[1]!.buffer);
    expect(views[0]!.length + views[1]!.length).toBe(6_000_000);
    const next = [mem.take(500_000), mem.take(2_000_000), mem.take(2_000_000)];
    expect(blocks).toHaveLength(2); // the early block is the one used
    expect(overlap(next[0]!, views[0]!)).toBe(true);
    expect(overlap(next[1]!, views[1]!)).toBe(true); // too big for the rest of block 0: starts block 1
    expect(next[1]!.byteOffset).toBe(views[1]!.byteOffset);
    expect(overlap(next[2]!, views[1]!)).toBe(true);
  });

  test('a store with a helper refuses unshared blocks; short or misaligned blocks are refused', () => {
    expect(() => new SegmentMemory(plainBlocks(false), true).take(10)).toThrow(RangeError);
    expect(() => new SegmentMemory((n) => new Uint8Array(n - 1), false).take(10)).toThrow(RangeError);
    expect(() => new SegmentMemory((n) => new Uint8Array(n + 8).subarray(4), false).take(10)).toThrow(RangeError);
    const ok = new SegmentMemory(plainBlocks(true), true).take(10);
    expect(ok.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});

describe('faultIn', () => {
  test('touches each page once from the first page boundary, changes no byte, and stops when told', () => {
    const buf = new Uint8Array(new SharedArrayBuffer(64 * 4096 * 3));
    for (let i = 0; i < buf.length; i += 97) buf[i] = (i % 255) + 1;
    const before = buf.slice();
    const view = buf.subarray(100, 100 + 64 * 4096 * 2);
    expect(faultIn([view], () => false)).toBe(128); // pages starting at 4096, 8192, … inside the view
    expect(Buffer.from(buf).equals(Buffer.from(before))).toBe(true);
    let asked = 0;
    expect(faultIn([view, buf], () => ++asked === 2)).toBe(128); // asked after 64 pages and after 128
  });

  test('on another thread, while this one writes the same memory: every written byte survives', async () => {
    const buf = new Uint8Array(new SharedArrayBuffer(16 << 20));
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL('./fixtures/fault-in-worker.ts', import.meta.url).href, { type: 'module' });
    const messages: unknown[] = [];
    let wake = () => {};
    worker.onmessage = (e) => (messages.push(e.data), wake());
    const next = () => new Promise<unknown>((resolve) => (messages.length > 0 ? resolve(messages.shift()) : (wake = () => resolve(messages.shift()))));
    worker.postMessage({ views: [buf.subarray(0, 8 << 20), buf.subarray(8 << 20)], stop });
    expect(await next()).toBe('started');
    // Write a nonzero byte at and next to every page's first byte, the bytes faultIn exchanges.
    for (let pass = 1; pass <= 20; pass++) {
      for (let k = 0; k < buf.length; k += 4096) {
        buf[k] = pass;
        buf[k + 1] = pass;
      }
    }
    Atomics.store(stop, 0, 1);
    const { rounds, pages } = (await next()) as { rounds: number; pages: number };
    worker.terminate();
    expect(rounds).toBeGreaterThan(0);
    expect(pages).toBeGreaterThan(0);
    for (let k = 0; k < buf.length; k += 4096) {
      expect(buf[k]).toBe(20);
      expect(buf[k + 1]).toBe(20);
    }
  });
});

const opts = treeHashOptions(selectSha256());
const writes = (from: number, to: number, tag: string, step = 1): TreeWrite[] =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => ({ key: `k/${from + i * step}`, value: { tag, i } }));

describe('huge-page blocks (Linux under Bun)', () => {
  const thp = (() => {
    try {
      return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    } catch {
      return '[never]';
    }
  })();

  test('blocks start on a 2 MiB page, are zeroed and shared when asked, and the kernel marks them for huge pages', async () => {
    const source = await hugePageBlocks({ shared: true });
    if (process.platform !== 'linux' || thp.includes('[never]')) {
      expect(source).toBeNull();
      return;
    }
    expect(source).not.toBeNull();
    const block = source!(6 << 20);
    expect(block.length).toBe(6 << 20);
    expect(block.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(allZero(block)).toBe(true);
    const { ptr } = await import('bun:ffi');
    const address = ptr(block);
    expect(address % (2 << 20)).toBe(0);
    // /proc/self/smaps: the mapping holding the block carries the `hg` flag (MADV_HUGEPAGE).
    const lines = readFileSync('/proc/self/smaps', 'utf8').split('\n');
    let flags = '';
    for (let i = 0, inside = false; i < lines.length; i++) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(lines[i]!);
      if (m) inside = parseInt(m[1]!, 16) <= address && address < parseInt(m[2]!, 16);
      else if (inside && lines[i]!.startsWith('VmFlags:')) flags = lines[i]!;
    }
    expect(flags.split(' ')).toContain('hg');
    expect((await hugePageBlocks({ shared: false }))!(4 << 20).buffer).toBeInstanceOf(ArrayBuffer);
  });

  test('a store on huge-page blocks, alone and with a helper, gives the roots of a plain store', async () => {
    const plain = new SparseMerkleTree(new MemoryNodeStore(), opts);
    const helper = startTreeHelper()!;
    expect(await helper.ready).toBe(true);
    const shared = (await hugePageBlocks({ shared: true })) ?? undefined;
    const own = (await hugePageBlocks({ shared: false })) ?? undefined;
    const alone = new SparseMerkleTree(new MemoryNodeStore(own ? { blocks: own } : {}), opts);
    const helped = new SparseMerkleTree(new MemoryNodeStore({ helper, ...(shared ? { blocks: shared } : {}) }), opts);
    let [a, b, c] = [EMPTY_HASH, EMPTY_HASH, EMPTY_HASH];
    for (const w of [writes(0, 40_000, 'a'), writes(0, 40_000, 'b', 2), writes(1, 40_000, 'c', 3), writes(0, 40_000, 'd', 5)]) {
      a = (await plain.apply(a, w)).root;
      b = (await alone.apply(b, w)).root;
      c = (await helped.apply(c, w)).root;
      expect(Buffer.from(b).toString('hex')).toBe(Buffer.from(a).toString('hex'));
      expect(Buffer.from(c).toString('hex')).toBe(Buffer.from(a).toString('hex'));
    }
    expect(helper.stats.jobs).toBe(3);
    expect(helper.stats.unfinished).toBe(0);
    helper.close();
  });
});
