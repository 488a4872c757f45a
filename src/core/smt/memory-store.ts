import type { Hash32 } from '../hash.ts';
import type { DirectNodeReader, NodeStore, PackedNodes, StoredNode } from './node-store.ts';

/** Where a node's 65 bytes sit: `buf[off, off + 65)`. */
export interface NodeLocation {
  buf: Uint8Array;
  off: number;
}

/**
 * In-memory content-addressed node store for millions of nodes. Nodes live in segments (a hash
 * buffer and a bytes buffer each, as in `PackedNodes`): `putPacked` adopts a batch's buffers as
 * they are, `putMany` copies into segments of its own. An open-addressing table maps a hash to
 * (segment, index); no JS object or string key exists per node, which keeps the garbage
 * collector out of the way.
 *
 * Each slot also holds a 32-bit tag from the hash, so a probe that meets another node is rejected
 * from the table alone and only the matching segment entry is read. The slot index comes from the
 * hash's first bytes, uniform for SHA-256 output; someone able to grind keys could cluster slots
 * and slow lookups, so this store is meant for tests, benchmarks and caches.
 *
 * Returned bytes are views into the store's memory: read-only.
 */
const HASH_BYTES = 32;
const NODE_BYTES = 65;
const OWN_SEGMENT_NODES = 1 << 14;
const INITIAL_SLOTS = 1 << 12;
const BLOCK = 32;
const SLOT = 4; // Int32s per slot: segment + 1 (0 = free), index, hash bytes 0-3, hash bytes 4-7

export class MemoryNodeStore implements NodeStore, DirectNodeReader {
  private segHashes: Uint8Array[] = [];
  private segBytes: Uint8Array[] = [];
  /** Segment that `putMany` appends to, and how full it is. */
  private own = -1;
  private ownCount = OWN_SEGMENT_NODES;
  private count = 0;
  private table = new Int32Array(INITIAL_SLOTS * SLOT);
  private mask = INITIAL_SLOTS - 1;
  private readonly scratch: NodeLocation = { buf: new Uint8Array(0), off: 0 };
  /** Which 8 bytes of a hash pick its slot and tag (see the constructor). */
  private readonly at: number;

  /**
   * `probeOffset` (0..24, default 0) picks which 8 bytes of a hash choose its slot and tag. A
   * cache whose hashes outsiders can grind passes a secret one, so a ground prefix clusters nothing.
   */
  constructor(opts: { probeOffset?: number } = {}) {
    const at = opts.probeOffset ?? 0;
    if (!Number.isInteger(at) || at < 0 || at > HASH_BYTES - 8) throw new RangeError('probeOffset must be an integer in 0..24');
    this.at = at;
  }

  /** Number of distinct nodes held. */
  get size(): number {
    return this.count;
  }

  async getMany(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]> {
    const out = new Array<Uint8Array | undefined>(hashes.length);
    const loc = this.scratch;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      out[i] = h.length === HASH_BYTES && this.locate(h, 0, loc) ? loc.buf.subarray(loc.off, loc.off + NODE_BYTES) : undefined;
    }
    return out;
  }

  async putMany(nodes: readonly StoredNode[]): Promise<void> {
    this.putCopies(nodes);
  }

  /** `putMany`, synchronously: copies the nodes into the store's own segments. */
  putCopies(nodes: readonly StoredNode[]): void {
    for (const n of nodes) {
      if (n.hash.length !== HASH_BYTES || n.bytes.length !== NODE_BYTES) {
        throw new RangeError('a stored node is a 32-byte hash and 65 bytes');
      }
    }
    this.reserve(nodes.length);
    for (const n of nodes) {
      const slot = this.freeSlot(n.hash, 0);
      if (slot < 0) continue;
      if (this.ownCount === OWN_SEGMENT_NODES) {
        this.own = this.segHashes.length;
        this.segHashes.push(new Uint8Array(OWN_SEGMENT_NODES * HASH_BYTES));
        this.segBytes.push(new Uint8Array(OWN_SEGMENT_NODES * NODE_BYTES));
        this.ownCount = 0;
      }
      const i = this.ownCount++;
      this.segHashes[this.own]!.set(n.hash, i * HASH_BYTES);
      this.segBytes[this.own]!.set(n.bytes, i * NODE_BYTES);
      this.fill(slot, this.own, i, n.hash, 0);
    }
  }

  /** Adopts packed batches without copying; the caller must never mutate their buffers. */
  putPacked(batches: readonly PackedNodes[]): void {
    for (const p of batches) {
      if (p.hashes.length < p.count * HASH_BYTES || p.bytes.length < p.count * NODE_BYTES) {
        throw new RangeError('packed nodes are shorter than their count');
      }
      this.reserve(p.count);
      const seg = this.segHashes.length;
      this.segHashes.push(p.hashes);
      this.segBytes.push(p.bytes);
      const h = p.hashes;
      let touch = 0;
      for (let base = 0; base < p.count; base += BLOCK) {
        const end = base + BLOCK < p.count ? base + BLOCK : p.count;
        // Touch the block's first-probe slots together so their cache misses overlap.
        const table = this.table;
        const mask = this.mask;
        for (let i = base; i < end; i++) touch ^= table[(slotOf(h, i * HASH_BYTES + this.at) & mask) * SLOT]!;
        for (let i = base; i < end; i++) {
          const slot = this.freeSlot(h, i * HASH_BYTES);
          if (slot >= 0) this.fill(slot, seg, i, h, i * HASH_BYTES);
        }
      }
      this.touched ^= touch;
    }
  }

  locate(hash: Uint8Array, off: number, into: NodeLocation): boolean {
    const table = this.table;
    const mask = this.mask;
    const tag = tagOf(hash, off + this.at);
    let slot = slotOf(hash, off + this.at) & mask;
    for (;;) {
      const s = table[slot * SLOT]!;
      if (s === 0) return false;
      if (table[slot * SLOT + 3] === tag) {
        const i = table[slot * SLOT + 1]!;
        if (equal32(this.segHashes[s - 1]!, i * HASH_BYTES, hash, off)) {
          into.buf = this.segBytes[s - 1]!;
          into.off = i * NODE_BYTES;
          return true;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  /**
   * `locate` for many hashes at once (`bufs[i]` at `offs[i]`); fills outBufs/outOffs and returns
   * the index of the first missing hash, or -1. It works in small blocks, first touching every
   * table slot and candidate record of the block, then comparing: loads that do not depend on
   * each other overlap their cache misses, where one-by-one lookups pay a memory latency each.
   */
  locateMany(bufs: readonly Uint8Array[], offs: Int32Array, n: number, outBufs: Uint8Array[], outOffs: Int32Array): number {
    const table = this.table;
    const mask = this.mask;
    const cand = this.cand;
    const segHashes = this.segHashes;
    const loc = this.scratch;
    let touch = 0;
    for (let base = 0; base < n; base += BLOCK) {
      const end = base + BLOCK < n ? base + BLOCK : n;
      for (let i = base; i < end; i++) {
        const h = bufs[i]!;
        const o = offs[i]!;
        const slot = slotOf(h, o + this.at) & mask;
        cand[i - base] = table[slot * SLOT + 3] === tagOf(h, o + this.at) ? slot : -1;
      }
      for (let i = base; i < end; i++) {
        const slot = cand[i - base]!;
        if (slot < 0) continue;
        const s = table[slot * SLOT]!;
        if (s !== 0) touch ^= segHashes[s - 1]![table[slot * SLOT + 1]! * HASH_BYTES]!;
      }
      for (let i = base; i < end; i++) {
        const h = bufs[i]!;
        const o = offs[i]!;
        const slot = cand[i - base]!;
        const s = slot < 0 ? 0 : table[slot * SLOT]!;
        if (s !== 0 && equal32(segHashes[s - 1]!, table[slot * SLOT + 1]! * HASH_BYTES, h, o)) {
          outBufs[i] = this.segBytes[s - 1]!;
          outOffs[i] = table[slot * SLOT + 1]! * NODE_BYTES;
        } else if (this.locate(h, o, loc)) {
          outBufs[i] = loc.buf;
          outOffs[i] = loc.off;
        } else {
          return i;
        }
      }
    }
    this.touched = touch;
    return -1;
  }

  private readonly cand = new Int32Array(BLOCK);
  /** Keeps the touch pass observable, so it is not optimized away. */
  touched = 0;

  /** The free slot where `hash` belongs, or -1 when it is already stored. */
  private freeSlot(hash: Uint8Array, off: number): number {
    const table = this.table;
    const mask = this.mask;
    const tag = tagOf(hash, off + this.at);
    let slot = slotOf(hash, off + this.at) & mask;
    for (;;) {
      const s = table[slot * SLOT]!;
      if (s === 0) return slot;
      if (table[slot * SLOT + 3] === tag && equal32(this.segHashes[s - 1]!, table[slot * SLOT + 1]! * HASH_BYTES, hash, off)) {
        return -1;
      }
      slot = (slot + 1) & mask;
    }
  }

  private fill(slot: number, seg: number, index: number, hash: Uint8Array, off: number): void {
    this.table[slot * SLOT] = seg + 1;
    this.table[slot * SLOT + 1] = index;
    this.table[slot * SLOT + 2] = slotOf(hash, off + this.at);
    this.table[slot * SLOT + 3] = tagOf(hash, off + this.at);
    this.count++;
  }

  /** Keeps the table at most half full after `more` insertions. */
  private reserve(more: number): void {
    let slots = this.mask + 1;
    if ((this.count + more) * 2 <= slots) return;
    while ((this.count + more) * 2 > slots) slots *= 2;
    const table = new Int32Array(slots * SLOT);
    const mask = slots - 1;
    const old = this.table;
    for (let s = 0; s <= this.mask; s++) {
      const seg = old[s * SLOT]!;
      if (seg === 0) continue;
      // The slot word is kept in the table, so growing never reads the (cache-cold) segments.
      const word = old[s * SLOT + 2]!;
      let slot = word & mask;
      while (table[slot * SLOT] !== 0) slot = (slot + 1) & mask;
      table[slot * SLOT] = seg;
      table[slot * SLOT + 1] = old[s * SLOT + 1]!;
      table[slot * SLOT + 2] = word;
      table[slot * SLOT + 3] = old[s * SLOT + 3]!;
    }
    this.table = table;
    this.mask = mask;
  }
}

function slotOf(h: Uint8Array, o: number): number {
  return h[o]! | (h[o + 1]! << 8) | (h[o + 2]! << 16) | (h[o + 3]! << 24);
}

function tagOf(h: Uint8Array, o: number): number {
  return h[o + 4]! | (h[o + 5]! << 8) | (h[o + 6]! << 16) | (h[o + 7]! << 24);
}

function equal32(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < HASH_BYTES; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
