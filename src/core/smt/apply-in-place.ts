import { fail } from '../errors.ts';
import { EMPTY_HASH, type Hash32 } from '../hash.ts';
import { partitionByBit, type HashInto, type PackedBatch } from './apply-batch.ts';
import { INNER_TAG, LEAF_TAG, MAX_DEPTH_BITS, NODE_BYTES } from './hashing.ts';
import type { MemoryNodeStore } from './memory-store.ts';
import { CLAIM_CALLER, CLAIM_FREE, CLAIM_HELPER, LEAF_LINK, MISSING_NODE, NO_NODE, SEGMENT_BITS, SEGMENT_MASK, SEGMENT_NODES, SIDE_DONE, UNKNOWN_LINK } from './node-ids.ts';
import type { PackedNodes } from './node-store.ts';
import type { SharedBatch, SideHelper, SideJob } from './apply-side.ts';
import { VIEW_MIN_BYTES, bytes, equal32, isZero32, viewOf } from './words.ts';

/** The node being assembled and its digest, shared by all batches (a batch runs without awaiting). */
const SCRATCH = bytes(NODE_BYTES);
const SCRATCH_VIEW = viewOf(SCRATCH);
const DIGEST = bytes(32);
const DIGEST32 = new Int32Array(DIGEST.buffer);
/** Int32Arrays use the platform's byte order; DataView writes must use the same to copy bytes as they are. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Applies a batch to a tree held by a `MemoryNodeStore`, writing the new nodes straight into the
 * store. The rules are SPEC §4's, as in `applyBatch`, and the roots are the same byte for byte;
 * what differs is the walk. With the whole tree in memory and each node's child ids at hand, it
 * recurses from the root, following links instead of looking every node up by hash level by
 * level, and builds each new node in place, so nothing is copied again when the store keeps it.
 * The new root enters the store's hash table at once, the other new nodes when a lookup by hash
 * first needs them (`MemoryNodeStore.defer`).
 *
 * With `helper`, an inner root's batch is walked on two threads (`updateHelped`).
 *
 * Synchronous: no other batch can see a half-applied one. A batch that fails part way leaves the
 * nodes it made unindexed and unreachable.
 */
export function applyInPlace(
  store: MemoryNodeStore,
  hashInto: HashInto,
  oldRoot: Hash32,
  batch: PackedBatch,
  helper?: SideHelper,
): { root: Hash32; packed: PackedNodes[] } {
  if (oldRoot.length !== 32) fail('invalid_length', 'root must be 32 bytes');
  if (batch.count === 0) return { root: oldRoot, packed: [] };
  const rootId = rootIdOf(store, oldRoot);
  // A helper reads the batch and its order where this thread keeps them: in shared memory.
  const shared = helper !== undefined && rootId !== NO_NODE ? store.sharedBatch(batch) : undefined;
  const a = new InPlace(store, hashInto, shared?.batch ?? batch, shared?.idx);
  const newRoot =
    shared !== undefined && a.tagOf(rootId, 0) === INNER_TAG ? updateHelped(store, helper!, a, shared, rootId, batch.count) : a.update(rootId, 0, batch.count, 0);
  return handOut(store, oldRoot, rootId, newRoot, a.close());
}

/** A batch needs at least this many writes to share with a helper thread (a job costs ~0.1-0.5 ms). */
export const MIN_HELPED_WRITES = 2048;
/** The top levels a helped batch walks itself; the subtrees below them are the work it shares out. */
const SPLIT_DEPTH = 6;
/** The most of a batch's writes a helper is offered when it names no share. */
const DEFAULT_HELPER_SHARE = 0.7;

/**
 * `InPlace.update` of an inner root on two threads (see apply-side.ts). The batch is split into
 * the subtrees below the top SPLIT_DEPTH levels (sooner where the tree ends). The rightmost of
 * them, up to `helper.share` of the writes, are offered to `helper`, which claims and walks them
 * from the right while this thread walks the rest from the left and then claims offered ones
 * until the two meet. Then it waits for the helper to answer (normally at once: it had no more
 * to claim), takes the helper's nodes and rebuilds the top levels from both. It walks what the
 * helper claimed itself when the helper fails. Synchronous like the rest of the walk: no other
 * batch can see a half-applied one.
 */
function updateHelped(store: MemoryNodeStore, helper: SideHelper, a: InPlace, shared: SharedBatch, rootId: number, count: number): number {
  // Subtree tasks (old id, lo, hi, depth), in path order, and where each split of the top levels fell.
  const tasks: number[] = [];
  const mids: number[] = [];
  a.collect(rootId, 0, count, 0, tasks, mids);
  // The helper is offered the last tasks: their writes are the tail idx[from..count).
  const share = Math.min(0.9, Math.max(0.1, helper.share ?? DEFAULT_HELPER_SHARE));
  let offered = tasks.length;
  while (offered > 4 && count - tasks[offered - 3]! <= share * count) offered -= 4;
  const results = new Int32Array(tasks.length / 4);
  const walk = (k: number) => (results[k / 4] = a.update(tasks[k]!, tasks[k + 1]!, tasks[k + 2]!, tasks[k + 3]!));
  const job = offered < tasks.length ? store.sideJob(shared, tasks, offered) : undefined;
  const started = job !== undefined && helper.start(job);
  try {
    for (let k = 0; k < offered; k += 4) walk(k);
    // Then the offered ones, each claimed first, until one is the helper's.
    for (let k = offered; k < tasks.length; k += 4) {
      if (started && Atomics.compareExchange(job.claims, (k - offered) / 4, CLAIM_FREE, CLAIM_CALLER) !== CLAIM_FREE) break;
      walk(k);
    }
  } catch (err) {
    // The helper reads the store's memory until it answers.
    if (job !== undefined) store.sideDone(job, started, started && helper.wait(job));
    throw err;
  }
  if (job !== undefined) {
    const answered = started && helper.wait(job);
    store.sideDone(job, started, answered);
    // A job never sent has no claims: this thread walked every task above.
    if (answered && job.out[0] === SIDE_DONE) a.takeSide(job, results, offered / 4);
    else for (let k = offered; k < tasks.length; k += 4) if (job.claims[(k - offered) / 4] === CLAIM_HELPER) walk(k);
  }
  return a.assemble(rootId, 0, count, 0, { results, mids, task: 0, mid: 0 });
}

/** The store's id of a batch's old root (NO_NODE for the empty tree). */
function rootIdOf(store: MemoryNodeStore, oldRoot: Hash32): number {
  if (isZero32(oldRoot, 0)) return NO_NODE;
  const rootId = store.idOf(oldRoot, 0);
  if (rootId === NO_NODE) fail('missing_node', 'tree node missing from the store', { depth: 0 });
  return rootId;
}

/** Defers the indexing of a batch's nodes (`runs`) and hands them out packed, as views of the store's segments. */
function handOut(store: MemoryNodeStore, oldRoot: Hash32, rootId: number, newRoot: number, runs: readonly number[]): { root: Hash32; packed: PackedNodes[] } {
  const packed: PackedNodes[] = [];
  for (let k = 0; k < runs.length; k += 3) {
    const s = runs[k]!;
    const from = runs[k + 1]!;
    const to = runs[k + 2]!;
    store.defer(s, from, to);
    packed.push(
      store.adopted({
        count: to - from,
        hashes: store.segHashes[s]!.subarray(from * 32, to * 32),
        bytes: store.segBytes[s]!.subarray(from * NODE_BYTES, to * NODE_BYTES),
      }),
    );
  }
  if (newRoot === rootId) return { root: oldRoot.slice(), packed };
  if (newRoot === NO_NODE) return { root: EMPTY_HASH.slice(), packed };
  // The batch's nodes wait to be indexed (MemoryNodeStore.defer); its root, looked up by hash, not.
  store.indexNode(newRoot);
  const at = (newRoot & SEGMENT_MASK) * 32;
  return { root: store.segHashes[newRoot >>> SEGMENT_BITS]!.slice(at, at + 32), packed };
}

/**
 * The memory an in-place walk reads and appends to: segments of node hashes, bytes and links by
 * segment number, and the segment new nodes go to. `MemoryNodeStore` is one; a helper thread's
 * view of a store's shared segments (`SideSpace`, apply-side.ts) is the other.
 */
export interface NodeSpace {
  readonly segHash32: Int32Array[];
  readonly segBytes: Uint8Array[];
  readonly segLinks: Int32Array[];
  own: number;
  ownCount: number;
  newOwnSegment(): void;
  /** Child `side` of inner node `i` of segment `seg` when its link is not known yet (see MemoryNodeStore.childLink). */
  childLink(seg: number, i: number, side: number): number;
}

export class InPlace {
  private readonly P: Uint8Array;
  private readonly V: Uint8Array;
  private readonly DEL: Uint8Array;
  /** Word views of the batch's paths and value hashes when it is large enough to be worth them. */
  private readonly P32: Int32Array | undefined;
  private readonly V32: Int32Array | undefined;
  private readonly idx: Int32Array;
  // The store's segments (the arrays themselves: a new segment is pushed onto them).
  private readonly hash32: Int32Array[];
  private readonly nodeBytes: Uint8Array[];
  private readonly links: Int32Array[];
  // The segment new nodes go to, and where this batch's nodes in it start.
  private seg = -1;
  private n = 0;
  private from = 0;
  private segH32: Int32Array = new Int32Array(0);
  private segNodes: Uint8Array = new Uint8Array(0);
  private segLinks: Int32Array = new Int32Array(0);
  /** (segment, from, to) of each run of new nodes. */
  private readonly runs: number[] = [];

  /** `idx`: the order of the batch's writes to walk in (a helper's is the caller's); identity when absent. */
  constructor(
    private readonly store: NodeSpace,
    private readonly hashInto: HashInto,
    batch: PackedBatch,
    idx?: Int32Array,
  ) {
    this.P = batch.paths;
    this.V = batch.valueHashes;
    this.DEL = batch.deleted;
    const words = batch.paths.length >= VIEW_MIN_BYTES && (batch.paths.byteOffset & 3) === 0 && (batch.valueHashes.byteOffset & 3) === 0;
    this.P32 = words ? new Int32Array(batch.paths.buffer, batch.paths.byteOffset, batch.count * 8) : undefined;
    this.V32 = words ? new Int32Array(batch.valueHashes.buffer, batch.valueHashes.byteOffset, batch.count * 8) : undefined;
    if (idx !== undefined) {
      if (idx.length < batch.count) throw new RangeError('order shorter than its batch');
      this.idx = idx;
    } else {
      this.idx = new Int32Array(batch.count);
      for (let i = 0; i < batch.count; i++) this.idx[i] = i;
    }
    this.hash32 = store.segHash32;
    this.nodeBytes = store.segBytes;
    this.links = store.segLinks;
    this.openSegment();
  }

  /**
   * The new id of the subtree at depth d whose old id is `old` (NO_NODE: empty), after the writes
   * idx[lo..hi). Returns `old` itself when every write below was a no-op.
   */
  update(old: number, lo: number, hi: number, d: number): number {
    if (old === NO_NODE) return this.rebuild(lo, hi, d, NO_NODE);
    const tag = this.tagOf(old, d);
    if (tag === LEAF_TAG) return this.rebuild(lo, hi, d, old);
    if (d >= MAX_DEPTH_BITS) fail('missing_node', 'stored tree is deeper than 256', { depth: d });
    const mid = partitionByBit(this.idx, this.P, lo, hi, d);
    const l = this.child(old, 0, d);
    const r = this.child(old, 1, d);
    const nl = lo < mid ? this.update(l, lo, mid, d + 1) : l;
    const nr = mid < hi ? this.update(r, mid, hi, d + 1) : r;
    return this.join(old, l, r, nl, nr, d);
  }

  /**
   * The top of a helped batch: splits the writes idx[lo..hi) under `old` at depth d by path bit
   * down to SPLIT_DEPTH, or to where the old tree ends (a leaf or nothing), and lists the
   * subtrees there with writes below them as tasks (old, lo, hi, depth), in path order.
   */
  collect(old: number, lo: number, hi: number, d: number, tasks: number[], mids: number[]): void {
    if (lo === hi) return;
    if (d === SPLIT_DEPTH || old === NO_NODE || this.tagOf(old, d) !== INNER_TAG) {
      tasks.push(old, lo, hi, d);
      return;
    }
    const mid = partitionByBit(this.idx, this.P, lo, hi, d);
    mids.push(mid);
    this.collect(this.child(old, 0, d), lo, mid, d + 1, tasks, mids);
    this.collect(this.child(old, 1, d), mid, hi, d + 1, tasks, mids);
  }

  /** The new id of `old` from the tasks' results: `collect`'s recursion again, joining on the way up. */
  assemble(old: number, lo: number, hi: number, d: number, at: { results: Int32Array; mids: number[]; task: number; mid: number }): number {
    if (lo === hi) return old;
    if (d === SPLIT_DEPTH || old === NO_NODE || this.tagOf(old, d) !== INNER_TAG) return at.results[at.task++]!;
    const mid = at.mids[at.mid++]!;
    const l = this.child(old, 0, d);
    const r = this.child(old, 1, d);
    const nl = this.assemble(l, lo, mid, d + 1, at);
    const nr = this.assemble(r, mid, hi, d + 1, at);
    return this.join(old, l, r, nl, nr, d);
  }

  /**
   * Takes a finished helper job's results: the new ids of the tasks it claimed go to
   * results[at..], and its new nodes, already in store segments under their final ids, join this
   * batch's runs.
   */
  takeSide(job: SideJob, results: Int32Array, at: number): void {
    const out = job.out;
    const tasks = job.tasks.length / 4;
    for (let k = 0; k < tasks; k++) if (job.claims[k] === CLAIM_HELPER) results[at + k] = out[2 + k]!;
    const used = out[1]!;
    for (let j = 0; j < used; j++) {
      const from = j === 0 ? job.arenaStart : 0;
      const to = out[2 + tasks + j]!;
      if (to > from) this.runs.push(job.arena[j]!, from, to);
    }
  }

  /** The new node at depth d whose old inner node `old` had children l, r and now has nl, nr. */
  join(old: number, l: number, r: number, nl: number, nr: number, d: number): number {
    if (nl === l && nr === r) return old;
    if (nl === NO_NODE || nr === NO_NODE) {
      // Nothing, or a lone leaf, left below: it moves up to this position.
      const other = nl === NO_NODE ? nr : nl;
      if (other === NO_NODE || this.tagOf(other, d + 1) === LEAF_TAG) return other;
    }
    return this.newInner(nl, nr);
  }

  /** A position that held the old leaf x (or nothing): drop deletes, let a write to x's path replace it, build. */
  private rebuild(lo: number, hi: number, d: number, x: number): number {
    const idx = this.idx;
    const DEL = this.DEL;
    const xb = x === NO_NODE ? undefined : this.nodeBytes[x >>> SEGMENT_BITS]!;
    const xo = (x & SEGMENT_MASK) * NODE_BYTES;
    let w = lo;
    for (let r = lo; r < hi; r++) {
      const e = idx[r]!;
      if (xb !== undefined && x !== NO_NODE && equal32(this.P, e * 32, xb, xo + 1)) {
        // A write to the old leaf's own key: rewriting the same value changes nothing.
        if (DEL[e] === 0 && equal32(this.V, e * 32, xb, xo + 33)) continue;
        x = NO_NODE;
      }
      if (DEL[e] === 0) idx[w++] = e;
    }
    return this.build(lo, w, d, x);
  }

  /** The compact subtree at depth d of the live writes idx[lo..hi) plus, unless NO_NODE, the old leaf x. */
  private build(lo: number, hi: number, d: number, x: number): number {
    const m = hi - lo + (x === NO_NODE ? 0 : 1);
    if (m === 0) return NO_NODE;
    if (m === 1) return x === NO_NODE ? this.newLeaf(this.idx[lo]!) : x; // an unchanged old leaf just moves
    if (d >= MAX_DEPTH_BITS) fail('invalid_args', 'two writes share one path');
    const mid = partitionByBit(this.idx, this.P, lo, hi, d);
    const xRight = x !== NO_NODE && ((this.nodeBytes[x >>> SEGMENT_BITS]![(x & SEGMENT_MASK) * NODE_BYTES + 1 + (d >>> 3)]! >>> (7 - (d & 7))) & 1) === 1;
    const l = this.build(lo, mid, d + 1, xRight ? NO_NODE : x);
    const r = this.build(mid, hi, d + 1, xRight ? x : NO_NODE);
    return this.newInner(l, r);
  }

  /**
   * Node `id`'s tag. Links say it without reading the node's bytes (one cache miss fewer per
   * node in a large tree): a leaf's first link is LEAF_LINK, an inner node's a child or NO_NODE.
   */
  tagOf(id: number, d: number): number {
    const links = this.links[id >>> SEGMENT_BITS]!;
    const at = (id & SEGMENT_MASK) * 2;
    const first = links[at]!;
    if (first === LEAF_LINK) return LEAF_TAG;
    if (first !== UNKNOWN_LINK) return INNER_TAG;
    const tag = this.nodeBytes[id >>> SEGMENT_BITS]![(id & SEGMENT_MASK) * NODE_BYTES]!;
    if (tag > INNER_TAG) fail('missing_node', 'stored tree node is malformed', { depth: d });
    if (tag === LEAF_TAG) links[at] = LEAF_LINK;
    return tag;
  }

  /** Child `side` (0 left, 1 right) of inner node `id`: its link, looked up the first time (MemoryNodeStore.childLink). */
  private child(id: number, side: number, d: number): number {
    const known = this.links[id >>> SEGMENT_BITS]![(id & SEGMENT_MASK) * 2 + side]!;
    if (known !== UNKNOWN_LINK) return known;
    const c = this.store.childLink(id >>> SEGMENT_BITS, id & SEGMENT_MASK, side);
    if (c === MISSING_NODE) fail('missing_node', 'tree node missing from the store', { depth: d + 1 });
    return c;
  }

  private newLeaf(e: number): number {
    SCRATCH[0] = LEAF_TAG;
    const P32 = this.P32;
    if (P32 !== undefined) {
      const V32 = this.V32!;
      for (let k = 0; k < 8; k++) {
        SCRATCH_VIEW.setInt32(1 + 4 * k, P32[e * 8 + k]!, LITTLE_ENDIAN);
        SCRATCH_VIEW.setInt32(33 + 4 * k, V32[e * 8 + k]!, LITTLE_ENDIAN);
      }
    } else {
      const P = this.P;
      const V = this.V;
      for (let k = 0; k < 32; k++) {
        SCRATCH[1 + k] = P[e * 32 + k]!;
        SCRATCH[33 + k] = V[e * 32 + k]!;
      }
    }
    return this.emit(LEAF_LINK, LEAF_LINK);
  }

  private newInner(l: number, r: number): number {
    SCRATCH[0] = INNER_TAG;
    this.copyHash(1, l);
    this.copyHash(33, r);
    return this.emit(l, r);
  }

  /** Copies node `id`'s hash (zeros for NO_NODE) into the scratch at `to`, a word at a time. */
  private copyHash(to: number, id: number): void {
    if (id === NO_NODE) {
      for (let k = 0; k < 32; k += 4) SCRATCH_VIEW.setInt32(to + k, 0);
      return;
    }
    const h = this.hash32[id >>> SEGMENT_BITS]!;
    const b = (id & SEGMENT_MASK) * 8;
    for (let k = 0; k < 8; k++) SCRATCH_VIEW.setInt32(to + 4 * k, h[b + k]!, LITTLE_ENDIAN);
  }

  /** Hashes the scratch node into the next free place of the store; returns its id. */
  private emit(l: number, r: number): number {
    if (this.n === SEGMENT_NODES) this.nextSegment();
    this.hashInto(SCRATCH, DIGEST);
    const i = this.n++;
    const h = this.segH32;
    for (let k = 0; k < 8; k++) h[i * 8 + k] = DIGEST32[k]!;
    // One native copy of 65 bytes measured faster here than 17 DataView word moves.
    this.segNodes.set(SCRATCH, i * NODE_BYTES);
    this.segLinks[i * 2] = l;
    this.segLinks[i * 2 + 1] = r;
    return (this.seg << SEGMENT_BITS) | i;
  }

  private openSegment(): void {
    const store = this.store;
    if (store.own < 0 || store.ownCount === SEGMENT_NODES) store.newOwnSegment();
    this.seg = store.own;
    this.n = this.from = store.ownCount;
    this.segH32 = this.hash32[this.seg]!;
    this.segNodes = this.nodeBytes[this.seg]!;
    this.segLinks = this.links[this.seg]!;
  }

  private closeSegment(): void {
    this.store.ownCount = this.n;
    if (this.n > this.from) this.runs.push(this.seg, this.from, this.n);
  }

  private nextSegment(): void {
    this.closeSegment();
    this.openSegment();
  }

  /** Ends the batch's appends; returns its runs of new nodes as (segment, from, to) triples. */
  close(): number[] {
    this.closeSegment();
    return this.runs;
  }
}
