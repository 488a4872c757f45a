/**
 * Memory for a `MemoryNodeStore`'s segments, carved out of large blocks. Two things need blocks
 * rather than a buffer per segment:
 *
 * - A runtime can back a block with huge pages (src/platform/huge-pages.ts): a large tree's walk
 *   reads nodes at random places, and with 4 KiB pages nearly each such read also misses the TLB.
 * - Memory is used in order, so where the next batches' nodes will go is known in advance
 *   (`ahead`). A helper thread faults those pages in while it would otherwise wait (apply-side.ts);
 *   a first write to a page costs ~2.6 µs on the machine the figures come from, and a batch of
 *   10,000 writes in a 1M-key tree fills ~2,300 (91,000 new nodes of 105 bytes).
 *
 * Blocks are never given back: nodes are immutable and the store keeps every one.
 */

/**
 * Zeroed memory of at least `byteLength` bytes, 8-byte aligned (e.g. a fresh ArrayBuffer, or a
 * SharedArrayBuffer for a store with a helper thread).
 */
export type BlockSource = (byteLength: number) => Uint8Array;

/** The first block, and the most a block grows to (doubling): a small store stays small. */
export const FIRST_BLOCK_BYTES = 4 << 20;
export const MAX_BLOCK_BYTES = 64 << 20;
/** Carved pieces start on a cache line. */
const ALIGN = 64;

export class SegmentMemory {
  private block: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** The block after this one, when `ahead` needed it early. */
  private next: Uint8Array | undefined;
  private nextSize = FIRST_BLOCK_BYTES;
  /** Bytes handed out so far (the store sizes `ahead` by how much a batch took). */
  taken = 0;

  constructor(
    private readonly source: BlockSource,
    private readonly shared: boolean,
  ) {}

  /** `byteLength` zeroed bytes no one else holds. */
  take(byteLength: number): Uint8Array {
    if (this.at + byteLength > this.block.length) {
      this.block = this.next !== undefined && this.next.length >= byteLength ? this.next : this.newBlock(byteLength);
      this.next = undefined;
      this.at = 0;
    }
    const piece = this.block.subarray(this.at, this.at + byteLength);
    this.at = Math.min(this.block.length, this.at + Math.ceil(byteLength / ALIGN) * ALIGN);
    this.taken += byteLength;
    return piece;
  }

  /**
   * The memory the next `byteLength` bytes of `take` will most likely come from (a piece larger
   * than what is left of a block starts the next one, so a little of it may be skipped): the rest
   * of this block, then the start of the next, which is made now for that.
   */
  ahead(byteLength: number): Uint8Array[] {
    const here = this.block.subarray(this.at, Math.min(this.block.length, this.at + byteLength));
    const left = byteLength - here.length;
    if (left <= 0) return [here];
    this.next ??= this.newBlock(0);
    return here.length > 0 ? [here, this.next.subarray(0, left)] : [this.next.subarray(0, left)];
  }

  private newBlock(atLeast: number): Uint8Array {
    const size = Math.max(atLeast, this.nextSize);
    this.nextSize = Math.min(MAX_BLOCK_BYTES, this.nextSize * 2);
    const block = this.source(size);
    if (block.length < size || (block.byteOffset & 7) !== 0) throw new RangeError('block source gave a short or misaligned block');
    if (this.shared && !(block.buffer instanceof SharedArrayBuffer)) throw new RangeError('a store with a helper needs blocks of shared memory');
    return block.subarray(0, size);
  }
}

/** Blocks of ordinary memory: a SharedArrayBuffer each when `shared`, else an ArrayBuffer. */
export function plainBlocks(shared: boolean): BlockSource {
  return (n) => new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
}

/**
 * Faults in the pages of `views` by writing to one byte of each, as a thread with nothing else to
 * do can. The write is an atomic compare-exchange of 0 with 0: a byte that is 0 stays 0 and one
 * another thread has written is left alone, so it is safe on memory the store may be filling at
 * the same time. Stops early when `stop()` says so (checked every 64 pages); returns pages touched.
 */
export function faultIn(views: readonly Uint8Array[], stop: () => boolean): number {
  const PAGE = 4096;
  let pages = 0;
  for (const v of views) {
    // From the first page boundary inside the view (a page before it is another piece's).
    const first = (PAGE - (v.byteOffset % PAGE)) % PAGE;
    for (let k = first; k < v.length; k += PAGE) {
      Atomics.compareExchange(v, k, 0, 0);
      if ((++pages & 63) === 0 && stop()) return pages;
    }
  }
  return pages;
}
