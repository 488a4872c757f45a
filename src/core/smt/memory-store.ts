import type { Hash32 } from '../hash.ts';
import { applyInPlace, MIN_HELPED_WRITES } from './apply-in-place.ts';
import type { SharedBatch, SharedSegment, SideHelper, SideJob } from './apply-side.ts';
import type { HashInto, PackedBatch } from './apply-batch.ts';
import { INNER_TAG } from './hashing.ts';
import { CLAIM_HELPER, MISSING_NODE, NO_NODE, SEGMENT_BITS, SEGMENT_MASK, SEGMENT_NODES, SIDE_ARENA_FULL, SIDE_DONE, SIDE_RUNNING, UNKNOWN_LINK } from './node-ids.ts';
import type { DirectNodeReader, InPlaceApplier, NodeStore, PackedNodes, StoredNode } from './node-store.ts';
import { FIRST_BLOCK_BYTES, MAX_BLOCK_BYTES, SegmentMemory, plainBlocks, type BlockSource } from './segment-memory.ts';
import { copy32Bytes, equal32, isZero32 } from './words.ts';

/** Where a node's 65 bytes sit: `buf[off, off + 65)`. */
export interface NodeLocation {
  buf: Uint8Array;
  off: number;
}

/**
 * In-memory content-addressed node store for millions of nodes. Nodes live in segments (a hash
 * buffer and a bytes buffer each, as in `PackedNodes`): `putPacked` adopts a large batch's
 * buffers as they are, `putMany` and small batches copy into segments of its own. An
 * open-addressing table maps a hash to (segment, index); no JS object or string key exists per
 * node, which keeps the garbage collector out of the way.
 *
 * Each slot also holds a 32-bit tag from the hash, so a probe that meets another node is rejected
 * from the table alone and only the matching segment entry is read. The slot index comes from the
 * hash's first bytes, uniform for SHA-256 output; someone able to grind keys could cluster slots
 * and slow lookups, so this store is meant for tests, benchmarks and caches.
 *
 * A node is also known by a number, its id: `segment << SEGMENT_BITS | index`. Next to each node the
 * store keeps the ids of its two children (links), so a batch applied in place (`applyInPlace`)
 * walks from parent to child without a hash lookup per node and writes its new nodes straight
 * into the store, and `locateMany` answers a child hash asked for inside a node it holds by the
 * parent's link. Links of nodes that came in as bytes are found by hash the first time they are
 * needed and remembered. Since the tree's reads go from a root down by links, a batch's nodes
 * other than its root enter the hash table only when a lookup by hash first misses (`defer`):
 * most never do, as later batches replace them. That first miss indexes every deferred node.
 *
 * With a helper thread (`helper`, apply-side.ts) the segments live in shared memory and a large
 * batch is walked by both threads at once; the roots and nodes are the same as without.
 *
 * Returned bytes are views into the store's memory: read-only.
 */
const HASH_BYTES = 32;
const NODE_BYTES = 65;
const OWN_SEGMENT_NODES = SEGMENT_NODES;
/** Ids are positive int32s: at most 2^31 / 2^SEGMENT_BITS segments. */
const MAX_SEGMENTS = 1 << (31 - SEGMENT_BITS);
/**
 * Packed batches smaller than this are copied, not adopted: every adopted batch takes a segment,
 * and many tiny ones would use up the segment numbers long before the memory.
 */
const MIN_ADOPTED_NODES = 1024;
const INITIAL_SLOTS = 1 << 12;
const BLOCK = 32;
const SLOT = 4; // Int32s per slot: segment + 1 (0 = free), index, hash bytes 0-3, hash bytes 4-7
/** A 4-byte aligned byte view as Int32s. */
const int32s = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.length >> 2);
/** In locateMany's candidates: found by a link, no table probe needed. */
const LINKED = -2;

export class MemoryNodeStore implements NodeStore, DirectNodeReader, InPlaceApplier {
  // Segments, by segment number; read and appended to by apply-in-place.ts (internal to the core).
  readonly segHashes: Uint8Array[] = [];
  /** The same hashes as Int32Arrays (segments are 4-byte aligned), for word copies. */
  readonly segHash32: Int32Array[] = [];
  readonly segBytes: Uint8Array[] = [];
  /** Two ints per node: left and right child ids (or NO_NODE); LEAF_LINK for a leaf; UNKNOWN_LINK until looked up. */
  readonly segLinks: Int32Array[] = [];
  /** Segment that `putMany` and in-place batches append to, and how full it is. */
  own = -1;
  ownCount = OWN_SEGMENT_NODES;
  private count = 0;
  /** Packed results this store handed out: already held, so `putPacked` skips them. */
  private readonly mine = new WeakSet<PackedNodes>();
  /** Segment number of each segment's bytes buffer, so a child hash's place names its parent. */
  private readonly segOf = new Map<Uint8Array, number>();
  private lastSegBuf: Uint8Array | undefined;
  private lastSeg = -1;
  /** Runs of in-place nodes not in the hash table yet: (segment, from, to) triples (see `defer`). */
  private pending: number[] = [];
  private table = new Int32Array(INITIAL_SLOTS * SLOT);
  private mask = INITIAL_SLOTS - 1;
  private readonly scratch: NodeLocation = { buf: new Uint8Array(0), off: 0 };
  /** Which 8 bytes of a hash pick its slot and tag (see the constructor). */
  private readonly at: number;
  /** A thread that walks part of each large batch (apply-side.ts); with one, segments are shared memory. */
  private readonly helper: SideHelper | undefined;
  /** How many segments the helper has been sent (it keeps them; only later ones go with a job). */
  private helperKnows = 0;
  /** Shared memory for the helped batch being applied (`sharedBatch`), room for this many writes. */
  private batchMemory: SharedArrayBuffer | undefined;
  private batchRoom = 0;
  /** Batches shared with the helper, their writes, and how many of those it walked (the rest were walked here). */
  readonly helped = { batches: 0, writes: 0, helperWrites: 0 };
  /** Store segments lent to the helper for its new nodes, from node `lentFrom` of the first; no one else writes there. */
  private lent: number[] = [];
  private lentFrom = 0;
  /** Arena lent per write sent, in nodes; doubled when a job runs out (a 1M-key tree makes ~9 per write). */
  private arenaPerWrite: number;
  /** Batches with fewer writes stay on this thread. */
  private readonly helpedMinWrites: number;
  /** Where segments come from when carved out of blocks (with a helper or a block source); else a buffer each. */
  private readonly blocks: SegmentMemory | undefined;
  /** Jobs sent to the helper so far, in shared memory: a helper faulting in pages for one job stops when the next is sent. */
  private readonly jobsSent: Int32Array | undefined;
  /** `blocks.taken` when the last job was sent. */
  private takenAtJob = 0;

  /**
   * `probeOffset` (0..24, default 0) picks which 8 bytes of a hash choose its slot and tag. A
   * cache whose hashes outsiders can grind passes a secret one, so a ground prefix clusters nothing.
   *
   * `helper` (from the runtime: `startTreeHelper()` in src/platform/tree-helper.ts) lets batches
   * of at least `helpedMinWrites` writes (default 2,048) use a second thread: the store then keeps
   * its segments in SharedArrayBuffers, and copies nodes it is given into them instead of adopting
   * their buffers. One helper serves one store. `helperArenaPerWrite` (default 24) is the room,
   * in nodes per write, lent to the helper for its new nodes; a job that needs more is walked here
   * and the room doubles.
   *
   * `blocks` (from the runtime: `hugePageBlocks()` in src/platform/huge-pages.ts) gives the
   * memory segments are carved from, in blocks of 4-64 MiB (segment-memory.ts); it must give
   * SharedArrayBuffer memory when there is a helper. With a helper and no `blocks`, blocks are
   * plain SharedArrayBuffers; with neither, each segment gets buffers of its own.
   */
  constructor(opts: { probeOffset?: number; helper?: SideHelper; helpedMinWrites?: number; helperArenaPerWrite?: number; blocks?: BlockSource } = {}) {
    const at = opts.probeOffset ?? 0;
    if (!Number.isInteger(at) || at < 0 || at > HASH_BYTES - 8) throw new RangeError('probeOffset must be an integer in 0..24');
    this.at = at;
    this.helper = opts.helper;
    this.helpedMinWrites = Math.max(1, opts.helpedMinWrites ?? MIN_HELPED_WRITES);
    this.arenaPerWrite = Math.max(1, opts.helperArenaPerWrite ?? 24);
    const shared = opts.helper !== undefined;
    this.blocks = shared || opts.blocks !== undefined ? new SegmentMemory(opts.blocks ?? plainBlocks(true), shared) : undefined;
    this.jobsSent = shared ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  }

  /** Zeroed memory for a segment: shared when a helper thread reads it. */
  private memory(byteLength: number): Uint8Array {
    return this.blocks !== undefined ? this.blocks.take(byteLength) : new Uint8Array(byteLength);
  }

  /** Number of distinct nodes held. */
  get size(): number {
    this.flush();
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
    this.flush(); // so a copy of a deferred node is recognised as one
    for (const n of nodes) {
      if (n.hash.length !== HASH_BYTES || n.bytes.length !== NODE_BYTES) {
        throw new RangeError('a stored node is a 32-byte hash and 65 bytes');
      }
    }
    this.reserve(nodes.length);
    for (const n of nodes) this.appendCopy(n.hash, 0, n.bytes, 0);
  }

  /** Copies one node (hash at `hash[ho]`, bytes at `bytes[bo]`) into the own segments unless the table has it. */
  private appendCopy(hash: Uint8Array, ho: number, bytes: Uint8Array, bo: number): void {
    const slot = this.freeSlot(hash, ho);
    if (slot < 0) return;
    if (this.ownCount === OWN_SEGMENT_NODES) this.newOwnSegment();
    const i = this.ownCount++;
    const oh = this.segHashes[this.own]!;
    const ob = this.segBytes[this.own]!;
    copy32Bytes(oh, i * HASH_BYTES, hash, ho);
    for (let k = 0; k < NODE_BYTES; k++) ob[i * NODE_BYTES + k] = bytes[bo + k]!;
    const links = this.segLinks[this.own]!;
    links[i * 2] = links[i * 2 + 1] = UNKNOWN_LINK;
    this.fill(slot, this.own, i, oh, i * HASH_BYTES);
  }

  /** Starts a new segment for `putCopies` and in-place batches to append to. */
  newOwnSegment(): void {
    this.own = this.newSegment();
    this.ownCount = 0;
  }

  /**
   * An empty segment of OWN_SEGMENT_NODES nodes; returns its number. Whoever writes a node into it
   * writes its links too (a copy UNKNOWN_LINK, an in-place batch the children), so they are not
   * set here: that would touch every page of them on the batch's critical path.
   */
  private newSegment(): number {
    const hashes = this.memory(OWN_SEGMENT_NODES * HASH_BYTES);
    const links = this.memory(OWN_SEGMENT_NODES * 8);
    return this.pushSegment(hashes, int32s(hashes), this.memory(OWN_SEGMENT_NODES * NODE_BYTES), int32s(links));
  }

  private addSegment(hashes: Uint8Array, bytes: Uint8Array, count: number): number {
    // Word access needs 4-byte alignment; only a caller's own odd slices lack it. A helper reads
    // only shared memory.
    const shared = this.helper !== undefined;
    const keep = (b: Uint8Array, n: number) => {
      if (shared ? b.buffer instanceof SharedArrayBuffer && (b.byteOffset & 3) === 0 : (b.byteOffset & 3) === 0) return b;
      const copy = this.memory(n);
      copy.set(b.subarray(0, n));
      return copy;
    };
    const aligned = keep(hashes, count * HASH_BYTES);
    const links = int32s(this.memory(count * 8)).fill(UNKNOWN_LINK);
    return this.pushSegment(aligned, new Int32Array(aligned.buffer, aligned.byteOffset, count * 8), keep(bytes, count * NODE_BYTES), links);
  }

  /** Appends a segment's arrays under the next segment number; returns it. */
  private pushSegment(hashes: Uint8Array, hash32: Int32Array, bytes: Uint8Array, links: Int32Array): number {
    if (this.segHashes.length >= MAX_SEGMENTS) throw new RangeError('memory node store is full (2^31 node ids)');
    this.segHashes.push(hashes);
    this.segHash32.push(hash32);
    this.segBytes.push(bytes);
    this.segOf.set(bytes, this.segBytes.length - 1);
    this.segLinks.push(links);
    return this.segHashes.length - 1;
  }

  /**
   * Adopts packed batches without copying (small ones are copied, see MIN_ADOPTED_NODES); the
   * caller must never mutate their buffers.
   */
  putPacked(batches: readonly PackedNodes[]): void {
    for (const p of batches) {
      if (this.mine.has(p)) continue;
      this.flush(); // so a copy of a deferred node is recognised as one
      if (p.hashes.length < p.count * HASH_BYTES || p.bytes.length < p.count * NODE_BYTES) {
        throw new RangeError('packed nodes are shorter than their count');
      }
      if (p.count < MIN_ADOPTED_NODES) {
        this.copyPacked(p);
        continue;
      }
      for (let at = 0; at < p.count; at += OWN_SEGMENT_NODES) {
        const n = Math.min(OWN_SEGMENT_NODES, p.count - at);
        const whole = at === 0 && n === p.count;
        const seg = this.addSegment(
          whole ? p.hashes : p.hashes.subarray(at * HASH_BYTES, (at + n) * HASH_BYTES),
          whole ? p.bytes : p.bytes.subarray(at * NODE_BYTES, (at + n) * NODE_BYTES),
          n,
        );
        this.index(seg, 0, n);
      }
    }
  }

  /** Copies a small packed batch into the own segments, as `putCopies` does with objects. */
  private copyPacked(p: PackedNodes): void {
    this.reserve(p.count);
    for (let n = 0; n < p.count; n++) this.appendCopy(p.hashes, n * HASH_BYTES, p.bytes, n * NODE_BYTES);
  }

  /**
   * Enters nodes `from..to` of a segment in the table; a node whose hash is already there stays
   * unindexed (a batch may rebuild a node the store holds; either copy serves its parent's link).
   */
  index(seg: number, from: number, to: number): void {
    this.reserve(to - from);
    const h = this.segHashes[seg]!;
    let touch = 0;
    for (let base = from; base < to; base += BLOCK) {
      const end = base + BLOCK < to ? base + BLOCK : to;
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

  /**
   * Leaves nodes `from..to` of a segment out of the hash table until a lookup by hash misses (or
   * `size`, `putMany` or `putPacked` is called). An in-place batch defers its nodes: the tree's
   * reads go from a root to its children by links (see `locateMany`), so a node is looked up by
   * its hash only when someone asks for that hash; most never are, as later batches replace them.
   */
  defer(seg: number, from: number, to: number): void {
    this.pending.push(seg, from, to);
  }

  /** Enters one node in the hash table now (a batch's new root: roots are looked up by hash). */
  indexNode(id: number): void {
    const i = id & SEGMENT_MASK;
    this.index(id >>> SEGMENT_BITS, i, i + 1);
  }

  /** Enters every deferred node in the hash table. */
  private flush(): void {
    if (this.pending.length === 0) return;
    const runs = this.pending;
    this.pending = [];
    for (let k = 0; k < runs.length; k += 3) this.index(runs[k]!, runs[k + 1]!, runs[k + 2]!);
  }

  /** Marks packed nodes as views of this store's own segments (see `putPacked`). */
  adopted(p: PackedNodes): PackedNodes {
    this.mine.add(p);
    return p;
  }

  applyInPlace(hashInto: HashInto, oldRoot: Hash32, batch: PackedBatch): { root: Hash32; packed: PackedNodes[] } {
    return applyInPlace(this, hashInto, oldRoot, batch, batch.count >= this.helpedMinWrites ? this.helper : undefined);
  }

  /** The helper's job for tasks[first..] of a helped batch (apply-in-place.ts): what it has not seen, and arena enough. */
  sideJob(shared: SharedBatch, tasks: readonly number[], first: number): SideJob {
    const offered = tasks[tasks.length - 2]! - tasks[first + 1]!;
    // Lend store segments enough for arenaPerWrite nodes per write, after what is still lent.
    const room = () => this.lent.length * SEGMENT_NODES - this.lentFrom;
    while (room() < offered * this.arenaPerWrite) this.lent.push(this.newSegment());
    const base = this.segHashes.length;
    const segments: SharedSegment[] = [];
    for (let s = this.helperKnows; s < base; s++) segments.push({ hash32: this.segHash32[s]!, bytes: this.segBytes[s]!, links: this.segLinks[s]! });
    const mine = Int32Array.from(tasks.slice(first));
    const job: SideJob = {
      ...shared,
      tasks: mine,
      segFrom: this.helperKnows,
      segments,
      base,
      claims: new Int32Array(new SharedArrayBuffer(mine.length)), // 4 bytes per task of 4 ints
      arena: Int32Array.from(this.lent),
      arenaStart: this.lentFrom,
      out: new Int32Array(new SharedArrayBuffer((2 + mine.length / 4 + this.lent.length) * 4)),
      ...this.prefault(),
    };
    job.out[0] = SIDE_RUNNING;
    this.helperKnows = base;
    return job;
  }

  /**
   * A helped batch copied into shared memory the store keeps for that (a native copy: cheaper
   * than the JS loop that gathered a helper's writes, and nothing to clone when the job is sent),
   * with its order of writes set to 0, 1, 2, ….
   */
  sharedBatch(b: PackedBatch): SharedBatch {
    const n = b.count;
    if (this.batchRoom < n) {
      this.batchRoom = Math.max(n, 2 * this.batchRoom);
      this.batchMemory = new SharedArrayBuffer(this.batchRoom * (HASH_BYTES * 2 + 4 + 1));
    }
    const room = this.batchRoom;
    const mem = this.batchMemory!;
    const batch: PackedBatch = {
      count: n,
      paths: new Uint8Array(mem, 0, n * HASH_BYTES),
      valueHashes: new Uint8Array(mem, room * HASH_BYTES, n * HASH_BYTES),
      deleted: new Uint8Array(mem, room * (HASH_BYTES * 2 + 4), n),
    };
    batch.paths.set(b.paths.subarray(0, n * HASH_BYTES));
    batch.valueHashes.set(b.valueHashes.subarray(0, n * HASH_BYTES));
    batch.deleted.set(b.deleted.subarray(0, n));
    const idx = new Int32Array(mem, room * HASH_BYTES * 2, n);
    for (let i = 0; i < n; i++) idx[i] = i;
    return { batch, idx };
  }

  /**
   * What a job asks the helper to fault in once it has answered: the memory the rest of this
   * batch and the next will most likely take (twice what the previous batch took, 4-128 MiB).
   * Counting this job as sent stops the helper faulting in for the previous one.
   */
  private prefault(): Pick<SideJob, 'prefault' | 'serial' | 'jobsSent'> {
    const blocks = this.blocks!;
    const jobsSent = this.jobsSent!;
    const serial = Atomics.add(jobsSent, 0, 1) + 1;
    const takenSince = blocks.taken - this.takenAtJob;
    this.takenAtJob = blocks.taken;
    const bytes = Math.min(2 * MAX_BLOCK_BYTES, Math.max(FIRST_BLOCK_BYTES, 2 * takenSince));
    return { prefault: blocks.ahead(bytes), serial, jobsSent };
  }

  /**
   * After a helped batch's wait. A job that was not sent leaves the next one to send every
   * segment. A helper that did not answer is gone: what it was lent stays unused for good (it
   * might still write there). One that finished keeps the rest of its last segment for the next
   * job; one that could not finish wrote nothing anyone refers to, so it gets the same room again
   * (twice as much when the room was too small).
   */
  sideDone(job: SideJob, sent: boolean, answered: boolean): void {
    if (!sent) {
      this.helperKnows = 0;
      return;
    }
    this.helped.batches++;
    this.helped.writes += job.batch.count;
    const state = job.out[0];
    if (!answered) {
      this.helperKnows = 0;
      this.lent = [];
      this.lentFrom = 0;
      this.batchMemory = undefined;
      this.batchRoom = 0;
    } else if (state === SIDE_DONE) {
      const t = job.tasks;
      for (let j = 0; j < t.length / 4; j++) if (job.claims[j] === CLAIM_HELPER) this.helped.helperWrites += t[j * 4 + 2]! - t[j * 4 + 1]!;
      const used = job.out[1]!;
      if (used === 0) return;
      const end = job.out[2 + job.tasks.length / 4 + used - 1]!;
      this.lent = this.lent.slice(end === SEGMENT_NODES ? used : used - 1);
      this.lentFrom = end === SEGMENT_NODES ? 0 : end;
    } else if (state === SIDE_ARENA_FULL) {
      this.arenaPerWrite *= 2;
    }
  }

  /** The id of the node whose hash is `hash[off, off + 32)`, or NO_NODE. */
  idOf(hash: Uint8Array, off: number): number {
    const id = this.probe(hash, off);
    if (id !== NO_NODE || this.pending.length === 0) return id;
    this.flush();
    return this.probe(hash, off);
  }

  /** `idOf` in the hash table alone. */
  private probe(hash: Uint8Array, off: number): number {
    const table = this.table;
    const mask = this.mask;
    const tag = tagOf(hash, off + this.at);
    let slot = slotOf(hash, off + this.at) & mask;
    for (;;) {
      const s = table[slot * SLOT]!;
      if (s === 0) return NO_NODE;
      if (table[slot * SLOT + 3] === tag) {
        const i = table[slot * SLOT + 1]!;
        if (equal32(this.segHashes[s - 1]!, i * HASH_BYTES, hash, off)) return ((s - 1) << SEGMENT_BITS) | i;
      }
      slot = (slot + 1) & mask;
    }
  }

  locate(hash: Uint8Array, off: number, into: NodeLocation): boolean {
    const id = this.idOf(hash, off);
    if (id === NO_NODE) return false;
    into.buf = this.segBytes[id >>> SEGMENT_BITS]!;
    into.off = (id & SEGMENT_MASK) * NODE_BYTES;
    return true;
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
        // A child hash inside a node this store holds: follow the parent's link, no table probe.
        const child = this.childAt(h, o);
        if (child !== NO_NODE) {
          outBufs[i] = this.segBytes[child >>> SEGMENT_BITS]!;
          outOffs[i] = (child & SEGMENT_MASK) * NODE_BYTES;
          cand[i - base] = LINKED;
          continue;
        }
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
        if (slot === LINKED) continue;
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

  /**
   * If `buf[off, off + 32)` is the left or right child hash inside an inner node this store
   * holds, the child's id from the parent's link (looked up and remembered if not known yet);
   * NO_NODE otherwise (another buffer, another place, an empty child), and the caller probes the
   * table.
   */
  private childAt(buf: Uint8Array, off: number): number {
    let seg: number | undefined;
    if (buf === this.lastSegBuf) seg = this.lastSeg;
    else {
      seg = this.segOf.get(buf);
      if (seg === undefined) return NO_NODE;
      this.lastSegBuf = buf;
      this.lastSeg = seg;
    }
    const r = off % NODE_BYTES;
    if (r !== 1 && r !== 33) return NO_NODE;
    const node = off - r;
    if (buf[node] !== INNER_TAG) return NO_NODE;
    const c = this.childLink(seg, node / NODE_BYTES, r === 1 ? 0 : 1);
    return c < 0 ? NO_NODE : c;
  }

  /**
   * Child `side` (0 left, 1 right) of inner node `i` of segment `seg`: its link, looked up by the
   * hash in the node's bytes (and remembered) the first time. NO_NODE for an empty child,
   * MISSING_NODE when the store does not hold it.
   */
  childLink(seg: number, i: number, side: number): number {
    const links = this.segLinks[seg]!;
    const at = i * 2 + side;
    const c = links[at]!;
    if (c !== UNKNOWN_LINK) return c;
    const b = this.segBytes[seg]!;
    const off = i * NODE_BYTES + 1 + side * HASH_BYTES;
    if (isZero32(b, off)) return (links[at] = NO_NODE);
    const found = this.idOf(b, off);
    return found === NO_NODE ? MISSING_NODE : (links[at] = found);
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
