import { fail } from '../errors.ts';
import { EMPTY_HASH, type Hash32 } from '../hash.ts';
import { INNER_TAG, LEAF_TAG, MAX_DEPTH_BITS, NODE_BYTES } from './hashing.ts';
import { VIEW_MIN_BYTES, bytes, copy32, copy32Bytes, equal32, isZero32, sharedViewOf, viewOf } from './words.ts';
import { NO_REF, RECORD_BYTES, isCachedNodeReader, newRef, refAt, selfRefAt, type CachedNodeReader, type NodeReader, type PackedNodes } from './node-store.ts';

/**
 * One batch of writes against one root, packed for speed: entry `i` has its path at
 * `paths[32i..32i+32)`, its value hash at `valueHashes[32i..)` and `deleted[i] = 1` for a delete.
 * Paths must be distinct (the caller keeps the last write per key).
 */
export interface PackedBatch {
  count: number;
  paths: Uint8Array;
  valueHashes: Uint8Array;
  deleted: Uint8Array;
}

/** SHA-256 of `data` written into the 32-byte `out`. */
export type HashInto = (data: Uint8Array, out: Uint8Array) => void;

// What is known about a subtree's result: its hash alone does not say whether it is a lone leaf,
// which matters because a lone leaf next to an empty sibling moves up (SPEC §4).
const EMPTY = 0;
const LEAF = 1;
const INNER = 2;
const UNKNOWN = 3; // an untouched, non-empty subtree we never read

// How a task is resolved.
const DESCEND = 0; // its old node is read at the next level
const DONE = 1; // result known
const SPLIT = 2; // old node was inner: result combines the two sides

// Task record layout: one Int32Array, STRIDE ints per task. A hash or node is referred to as
// (buffer id, byte offset); buffer ids index `bufs`.
const OLD_ID = 0; // where the old hash of this position is
const OLD_OFF = 1;
const LO = 2; // idx[LO..HI) are the writes under this position
const HI = 3;
const MODE = 4;
const NODE_ID = 5; // the old inner node's bytes, once read
const NODE_OFF = 6;
const LEFT = 7; // child task, or -1 when that side is untouched
const RIGHT = 8;
const PROBED = 9; // kind of the untouched child, once probed
const RES_ID = 10; // the new hash of this position
const RES_OFF = 11;
const RES_KIND = 12;
const SAME = 13; // 1 when the new hash is the old one (every write below was a no-op)
const STRIDE = 16;

const EMPTY_ID = 0;
const OUT_CHUNK_MAX = 1 << 14;

/**
 * One node being assembled and its digest, shared by all batches: a batch fills, hashes and
 * copies it out without awaiting in between, so batches in flight never see each other's.
 * Allocating them per batch (with the views the word copies need) cost several µs per small batch.
 */
const SCRATCH = bytes(NODE_BYTES);
const SCRATCH_VIEW = viewOf(SCRATCH);
/** The scratch node's children's references (see node-store.ts). */
let scratchLeft = NO_REF;
let scratchRight = NO_REF;
const DIGEST = bytes(32);
const DIGEST32 = new Int32Array(DIGEST.buffer);

/**
 * The task array of the last batch, kept for the next one: a large batch needs tens of MB of
 * tasks, and fresh memory costs a page fault per 4 KiB (measured at about 0.5 ns a byte here),
 * more than the tasks' work. A batch takes it (so concurrent batches never share one) and gives
 * it back when done; contents are never read before being written.
 */
let spareTasks: Int32Array | undefined;

function takeTasks(ints: number): Int32Array {
  const spare = spareTasks;
  if (spare !== undefined && spare.length >= ints) {
    spareTasks = undefined;
    return spare;
  }
  return new Int32Array(ints);
}

/** Above this (32 MiB) a task array is left to the garbage collector rather than kept. */
const MAX_SPARE_INTS = 1 << 23;

function giveTasks(T: Int32Array): void {
  if (T.length <= MAX_SPARE_INTS && (spareTasks === undefined || spareTasks.length < T.length)) spareTasks = T;
}

/**
 * Applies a batch without loading the tree. It walks down level by level, reading every old node
 * a level needs at once (one `getMany` per level, or the store's cache), splits the batch by
 * path bit at each inner node, and where it reaches an old leaf or an empty slot builds the new
 * subtree in memory. Then it hashes bottom up, so each new node is hashed once however many
 * writes share it.
 *
 * It allocates nothing per node: hashes are (buffer id, offset) references into stored node
 * bytes or the packed output, new nodes are assembled in one scratch buffer, and tasks live in
 * one Int32Array, numbered in creation order (a child is created after its parent, so walking
 * the numbers backwards visits children first).
 */
export async function applyBatch(
  store: NodeReader,
  hashInto: HashInto,
  oldRoot: Hash32,
  batch: PackedBatch,
): Promise<{ root: Hash32; rootRef: number; packed: PackedNodes[] }> {
  if (batch.count === 0) return { root: oldRoot, rootRef: NO_REF, packed: [] };
  return new BatchApplier(store, hashInto, batch).run(oldRoot);
}

class BatchApplier {
  private readonly P: Uint8Array;
  private readonly V: Uint8Array;
  private readonly DEL: Uint8Array;
  /** Views of the batch's paths and value hashes when it is large enough to be worth them (see VIEW_MIN_BYTES). */
  private readonly PV: DataView | undefined;
  private readonly VV: DataView | undefined;
  private readonly idx: Int32Array;
  private readonly cached: CachedNodeReader | undefined;

  /** Buffers referred to by id; 0 is EMPTY. */
  private readonly bufs: Uint8Array[] = [EMPTY_HASH];
  /** A DataView of each of `bufs`, same ids, made when first needed (see `view`). */
  private readonly views: (DataView | undefined)[] = [undefined];
  private lastStoreBuf: Uint8Array = EMPTY_HASH;
  private lastStoreId = EMPTY_ID;
  private readonly storeIds = new Map<Uint8Array, number>();
  /** Per buffer id: for an output chunk, the batch index of its first node; -1 for any other buffer. */
  private readonly firstNew: number[] = [-1];
  /** Buffer id of the old root's hash, and the store's reference for the old root once read. */
  private rootBuf = EMPTY_ID;
  private rootRef = NO_REF;
  /** Nodes emitted before the current chunk. */
  private emitted = 0;

  private T: Int32Array;
  private tasks = 0;

  // Packed output, in chunks so that references into it stay valid as it grows.
  private readonly packed: PackedNodes[] = [];
  private readonly chunkNodes: number;
  private H = new Uint8Array(0);
  private B = new Uint8Array(0);
  /** Views of H (aligned: Int32Array) and B (65-byte records: DataView). */
  private H32: Int32Array | undefined;
  /** Children's references of the current chunk's nodes, two per node. */
  private K = new Float64Array(0);
  private BV: DataView | undefined;
  private hId = EMPTY_ID;
  private n: number;

  // Results of build/emit.
  private outId = EMPTY_ID;
  private outOff = 0;
  private outKind = EMPTY;

  // Scratch for the cached path, grown to the widest level and reused (small batches would
  // otherwise pay several allocations per level).
  private qBufs: Uint8Array[] = [];
  private qOffs = new Int32Array(0);
  private outBufs: Uint8Array[] = [];
  private outOffs = new Int32Array(0);
  private got = new Int32Array(0);

  constructor(
    private readonly store: NodeReader,
    private readonly hashInto: HashInto,
    batch: PackedBatch,
  ) {
    const count = batch.count;
    this.P = batch.paths;
    this.V = batch.valueHashes;
    this.DEL = batch.deleted;
    const large = batch.paths.length >= VIEW_MIN_BYTES;
    this.PV = large ? viewOf(batch.paths) : undefined;
    this.VV = large ? viewOf(batch.valueHashes) : undefined;
    this.idx = new Int32Array(count);
    for (let i = 0; i < count; i++) this.idx[i] = i;
    this.cached = isCachedNodeReader(store) ? store : undefined;
    this.T = takeTasks(Math.min(1 << 16, Math.max(64, count * 4)) * STRIDE); // grows by doubling
    this.chunkNodes = Math.min(OUT_CHUNK_MAX, Math.max(64, count * 4));
    this.n = this.chunkNodes;
  }

  async run(oldRoot: Hash32): Promise<{ root: Hash32; rootRef: number; packed: PackedNodes[] }> {
    const count = this.idx.length;
    const rootId = this.pushBuf(oldRoot);
    this.rootBuf = rootId;
    let frontier: number[] = [];
    this.addTask(rootId, 0, 0, count, 0, frontier);
    for (let d = 0; frontier.length > 0; d++) {
      // A level held in the cache is answered synchronously: no Promise per level.
      const got = (this.cached !== undefined && this.readLevelCached(this.cached, frontier, d)) || (await this.readLevel(frontier, d));
      frontier = this.descend(frontier, got, d);
    }
    this.combineAll();

    const T = this.T;
    const rb = this.bufs[T[RES_ID]!]!;
    const ro = T[RES_OFF]!;
    if (this.n > 0 && this.B.length > 0) {
      // Trim the last chunk so a store that keeps the buffers keeps no slack.
      const n = this.n;
      const full = n === this.chunkNodes;
      this.packed.push({
        count: n,
        hashes: full ? this.H : this.H.slice(0, n * 32),
        bytes: full ? this.B : this.B.slice(0, n * NODE_BYTES),
        kids: full ? this.K : this.K.slice(0, n * 2),
      });
    }
    const root = rb.slice(ro, ro + 32);
    const rootRef = this.refOf(T[RES_ID]!, ro);
    giveTasks(this.T);
    return { root, rootRef, packed: this.packed };
  }

  /**
   * `readLevel` from the store's cache; null when a node of the level is not cached, and the
   * caller reads the level through `getMany`.
   */
  private readLevelCached(cache: CachedNodeReader, frontier: number[], d: number): Int32Array | null {
    const T = this.T;
    const bufs = this.bufs;
    const len = frontier.length;
    if (this.qOffs.length < len) {
      this.qOffs = new Int32Array(len * 2);
      this.outOffs = new Int32Array(len * 2);
      this.got = new Int32Array(len * 4);
    }
    const { qBufs, qOffs, outBufs, outOffs, got } = this;
    for (let f = 0; f < len; f++) {
      const e = frontier[f]!;
      qBufs[f] = e >= 0 ? bufs[T[e * STRIDE + OLD_ID]!]! : bufs[T[~e * STRIDE + NODE_ID]!]!;
      qOffs[f] = e >= 0 ? T[e * STRIDE + OLD_OFF]! : this.untouchedOff(~e);
    }
    if (cache.locateCachedMany(qBufs, qOffs, len, outBufs, outOffs) >= 0) return null;
    for (let f = 0; f < len; f++) {
      const b = outBufs[f]!;
      const o = outOffs[f]!;
      // Check the cache's answers as readLevel checks getMany's.
      if (b.length < o + NODE_BYTES) fail('missing_node', 'stored tree node is malformed', { depth: d });
      // A cache hands out views into a few large buffers: one id per buffer.
      got[f * 2] = this.storeBufId(b);
      if (d === 0) this.rootRef = selfRefAt(b, o);
      got[f * 2 + 1] = o;
    }
    return got;
  }

  /**
   * Reads the nodes behind a frontier; returns (id, offset) pairs. Entry t reads task t's old
   * node, entry ~t the untouched child of task t.
   */
  private async readLevel(frontier: number[], d: number): Promise<Int32Array> {
    const T = this.T;
    const bufs = this.bufs;
    const len = frontier.length;
    const got = new Int32Array(len * 2);
    const wanted = new Array<Hash32>(len);
    const refs = new Array<number>(len);
    for (let f = 0; f < len; f++) {
      const e = frontier[f]!;
      const b = e >= 0 ? bufs[T[e * STRIDE + OLD_ID]!]! : bufs[T[~e * STRIDE + NODE_ID]!]!;
      const o = e >= 0 ? T[e * STRIDE + OLD_OFF]! : this.untouchedOff(~e);
      wanted[f] = o === 0 && b.length === 32 ? b : b.subarray(o, o + 32);
      refs[f] = refAt(b, o);
    }
    const nodes = await this.store.getMany(wanted, refs);
    for (let f = 0; f < len; f++) {
      const b = nodes[f];
      if (b === undefined) fail('missing_node', 'tree node missing from the store', { depth: d });
      if (b.length !== NODE_BYTES && b.length !== RECORD_BYTES) fail('missing_node', 'stored tree node is malformed', { depth: d });
      if (d === 0) this.rootRef = selfRefAt(b, 0);
      got[f * 2] = this.pushBuf(b);
      got[f * 2 + 1] = 0;
    }
    return got;
  }

  private pushBuf(buf: Uint8Array, firstNew = -1): number {
    this.views.push(undefined);
    this.firstNew.push(firstNew);
    return this.bufs.push(buf) - 1;
  }

  /** The reference to put in a new node for the hash at bufs[id][off..]: see node-store.ts. */
  private refOf(id: number, off: number): number {
    if (id === EMPTY_ID) return NO_REF;
    const k = this.firstNew[id]!;
    if (k >= 0) return newRef(k + off / 32);
    if (id === this.rootBuf) return this.rootRef;
    return refAt(this.bufs[id]!, off);
  }

  /**
   * The DataView of buffer `id`, made on first use; none for a small buffer, whose few hashes are
   * cheaper to copy a byte at a time than to make a view for (see VIEW_MIN_BYTES).
   */
  private view(id: number): DataView | undefined {
    const v = this.views[id];
    if (v !== undefined) return v;
    const b = this.bufs[id]!;
    if (b.length < VIEW_MIN_BYTES) return undefined;
    return (this.views[id] = sharedViewOf(b));
  }

  private storeBufId(buf: Uint8Array): number {
    if (buf === this.lastStoreBuf) return this.lastStoreId;
    let id = this.storeIds.get(buf);
    if (id === undefined) {
      id = this.pushBuf(buf);
      this.storeIds.set(buf, id);
    }
    this.lastStoreBuf = buf;
    this.lastStoreId = id;
    return id;
  }

  private untouchedOff(t: number): number {
    const T = this.T;
    return T[t * STRIDE + NODE_OFF]! + (T[t * STRIDE + LEFT]! < 0 ? 1 : 33);
  }

  /** Handles the nodes read for one level; returns the next frontier. */
  private descend(frontier: number[], got: Int32Array, d: number): number[] {
    const next: number[] = [];
    const bufs = this.bufs;
    const idx = this.idx;
    const P = this.P;
    for (let f = 0; f < frontier.length; f++) {
      const e = frontier[f]!;
      const bid = got[f * 2]!;
      const o = got[f * 2 + 1]!;
      const b = bufs[bid]!;
      const tag = b[o]!;
      if (tag > INNER_TAG) fail('missing_node', 'stored tree node is malformed', { depth: d });
      if (e < 0) {
        this.T[~e * STRIDE + PROBED] = tag === LEAF_TAG ? LEAF : INNER;
        continue;
      }
      const base = e * STRIDE;
      const lo = this.T[base + LO]!;
      const hi = this.T[base + HI]!;
      if (tag === LEAF_TAG) {
        const oldId = this.T[base + OLD_ID]!;
        const oldOff = this.T[base + OLD_OFF]!;
        this.rebuild(lo, hi, d, bid, o, oldId, oldOff);
        this.setResult(e, DONE, this.outId === oldId && this.outOff === oldOff);
        continue;
      }
      if (d >= MAX_DEPTH_BITS) fail('missing_node', 'stored tree is deeper than 256', { depth: d });
      const mid = partitionByBit(idx, P, lo, hi, d);
      this.T[base + MODE] = SPLIT;
      this.T[base + NODE_ID] = bid;
      this.T[base + NODE_OFF] = o;
      if (lo < mid) {
        const c = this.addTask(bid, o + 1, lo, mid, d + 1, next);
        this.T[base + LEFT] = c;
      }
      if (mid < hi) {
        const c = this.addTask(bid, o + 33, mid, hi, d + 1, next);
        this.T[base + RIGHT] = c;
      }
      // If one side is untouched and the other may become empty, a lone leaf on the untouched
      // side would have to move up: learn its kind in the next level's read.
      if (lo === mid ? !isZero32(b, o + 1) && this.allDeleted(mid, hi) : mid === hi && !isZero32(b, o + 33) && this.allDeleted(lo, mid)) {
        next.push(~e);
      }
    }
    return next;
  }

  /** Creates the task for a touched position; returns its id. */
  private addTask(oldId: number, oldOff: number, lo: number, hi: number, d: number, next: number[]): number {
    const t = this.tasks++;
    if ((t + 1) * STRIDE > this.T.length) {
      const grown = new Int32Array(this.T.length * 2);
      grown.set(this.T);
      this.T = grown;
    }
    const T = this.T;
    const base = t * STRIDE;
    T[base + OLD_ID] = oldId;
    T[base + OLD_OFF] = oldOff;
    T[base + LO] = lo;
    T[base + HI] = hi;
    T[base + LEFT] = -1;
    T[base + RIGHT] = -1;
    T[base + PROBED] = UNKNOWN;
    T[base + SAME] = 0;
    if (isZero32(this.bufs[oldId]!, oldOff)) {
      this.rebuild(lo, hi, d, -1, 0, EMPTY_ID, 0);
      this.setResult(t, DONE, this.outKind === EMPTY);
    } else {
      T[base + MODE] = DESCEND;
      next.push(t);
    }
    return t;
  }

  private setResult(t: number, mode: number, same: boolean): void {
    const T = this.T;
    const base = t * STRIDE;
    T[base + MODE] = mode;
    T[base + SAME] = same ? 1 : 0;
    T[base + RES_ID] = this.outId;
    T[base + RES_OFF] = this.outOff;
    T[base + RES_KIND] = this.outKind;
  }

  /** Bottom-up pass over the SPLIT tasks, children first. */
  private combineAll(): void {
    const bufs = this.bufs;
    for (let t = this.tasks - 1; t >= 0; t--) {
      const T = this.T;
      const base = t * STRIDE;
      if (T[base + MODE] !== SPLIT) continue;
      const nid = T[base + NODE_ID]!;
      const no = T[base + NODE_OFF]!;
      const nb = bufs[nid]!;
      const a = T[base + LEFT]!;
      const c = T[base + RIGHT]!;
      const aid = a >= 0 ? T[a * STRIDE + RES_ID]! : nid;
      const ao = a >= 0 ? T[a * STRIDE + RES_OFF]! : no + 1;
      const ak = a >= 0 ? T[a * STRIDE + RES_KIND]! : isZero32(nb, no + 1) ? EMPTY : T[base + PROBED]!;
      const cid = c >= 0 ? T[c * STRIDE + RES_ID]! : nid;
      const co = c >= 0 ? T[c * STRIDE + RES_OFF]! : no + 33;
      const ck = c >= 0 ? T[c * STRIDE + RES_KIND]! : isZero32(nb, no + 33) ? EMPTY : T[base + PROBED]!;
      if ((a < 0 || T[a * STRIDE + SAME] === 1) && (c < 0 || T[c * STRIDE + SAME] === 1)) {
        // Every write below was a no-op: keep the old node instead of re-creating it.
        T[base + RES_ID] = T[base + OLD_ID]!;
        T[base + RES_OFF] = T[base + OLD_OFF]!;
        T[base + RES_KIND] = INNER;
        T[base + SAME] = 1;
        continue;
      }
      if (ak === EMPTY || ck === EMPTY) {
        const other = ak === EMPTY ? ck : ak;
        if (other === EMPTY || other === LEAF) {
          // Nothing, or a lone leaf, remains below: it moves up to this position.
          T[base + RES_ID] = ak === EMPTY ? cid : aid;
          T[base + RES_OFF] = ak === EMPTY ? co : ao;
          T[base + RES_KIND] = other;
          continue;
        }
        if (other === UNKNOWN) throw new Error('smt: internal error, sibling kind not probed');
      }
      this.newInner(aid, ao, cid, co);
      T[base + RES_ID] = this.outId;
      T[base + RES_OFF] = this.outOff;
      T[base + RES_KIND] = INNER;
    }
  }

  /** A position that held an old leaf (xId >= 0) or nothing: drop deletes, let a write to x's path replace it, build. */
  private rebuild(lo: number, hi: number, d: number, xId: number, xo: number, hId: number, ho: number): void {
    const idx = this.idx;
    const P = this.P;
    const DEL = this.DEL;
    const xb = xId >= 0 ? this.bufs[xId]! : undefined;
    let w = lo;
    for (let r = lo; r < hi; r++) {
      const e = idx[r]!;
      if (xId >= 0 && equal32(P, e * 32, xb!, xo + 1)) {
        // A write to the old leaf's own key: rewriting the same value changes nothing.
        if (DEL[e] === 0 && equal32(this.V, e * 32, xb!, xo + 33)) continue;
        xId = -1;
      }
      if (DEL[e] === 0) idx[w++] = e;
    }
    this.build(lo, w, d, xId, xo, hId, ho);
  }

  /**
   * The compact subtree at depth d of the live entries idx[lo..hi) plus, if xId >= 0, the old
   * leaf stored at bufs[xId][xo..] whose hash is at bufs[hId][ho..]. All paths are distinct.
   */
  private build(lo: number, hi: number, d: number, xId: number, xo: number, hId: number, ho: number): void {
    const m = hi - lo + (xId < 0 ? 0 : 1);
    if (m === 0) {
      this.outId = EMPTY_ID;
      this.outOff = 0;
      this.outKind = EMPTY;
      return;
    }
    if (m === 1) {
      if (xId < 0) return this.newLeaf(this.idx[lo]!);
      this.outId = hId; // an unchanged old leaf just moves
      this.outOff = ho;
      this.outKind = LEAF;
      return;
    }
    if (d >= MAX_DEPTH_BITS) fail('invalid_args', 'two writes share one path');
    const mid = partitionByBit(this.idx, this.P, lo, hi, d);
    const xRight = xId >= 0 && ((this.bufs[xId]![xo + 1 + (d >>> 3)]! >>> (7 - (d & 7))) & 1) === 1;
    this.build(lo, mid, d + 1, xRight ? -1 : xId, xo, hId, ho);
    const lId = this.outId;
    const lOff = this.outOff;
    this.build(mid, hi, d + 1, xRight ? xId : -1, xo, hId, ho);
    this.newInner(lId, lOff, this.outId, this.outOff);
  }

  private allDeleted(lo: number, hi: number): boolean {
    for (let r = lo; r < hi; r++) if (this.DEL[this.idx[r]!] === 0) return false;
    return true;
  }

  private newLeaf(e: number): void {
    SCRATCH[0] = LEAF_TAG;
    scratchLeft = NO_REF;
    scratchRight = NO_REF;
    if (this.PV !== undefined) {
      copy32(SCRATCH_VIEW, 1, this.PV, e * 32);
      copy32(SCRATCH_VIEW, 33, this.VV!, e * 32);
    } else {
      copy32Bytes(SCRATCH, 1, this.P, e * 32);
      copy32Bytes(SCRATCH, 33, this.V, e * 32);
    }
    this.emit();
    this.outKind = LEAF;
  }

  /** A new inner node over the hashes at bufs[lId][lo..] and bufs[rId][ro..]. */
  private newInner(lId: number, lo: number, rId: number, ro: number): void {
    SCRATCH[0] = INNER_TAG;
    this.copyHash(1, lId, lo);
    this.copyHash(33, rId, ro);
    scratchLeft = this.refOf(lId, lo);
    scratchRight = this.refOf(rId, ro);
    this.emit();
    this.outKind = INNER;
  }

  private copyHash(to: number, id: number, off: number): void {
    const v = this.view(id);
    if (v !== undefined) copy32(SCRATCH_VIEW, to, v, off);
    else copy32Bytes(SCRATCH, to, this.bufs[id]!, off);
  }

  /** Hashes the scratch node and appends it to the packed output. */
  private emit(): void {
    if (this.n === this.chunkNodes) {
      if (this.B.length > 0) this.packed.push({ count: this.n, hashes: this.H, bytes: this.B, kids: this.K });
      this.emitted += this.B.length > 0 ? this.n : 0;
      // Both get views, or neither (decided on the smaller, the hashes).
      const large = this.chunkNodes * 32 >= VIEW_MIN_BYTES;
      this.H = large ? bytes(this.chunkNodes * 32) : new Uint8Array(this.chunkNodes * 32);
      this.B = large ? bytes(this.chunkNodes * NODE_BYTES) : new Uint8Array(this.chunkNodes * NODE_BYTES);
      this.H32 = large ? new Int32Array(this.H.buffer) : undefined;
      this.BV = large ? viewOf(this.B) : undefined;
      this.K = new Float64Array(this.chunkNodes * 2);
      this.hId = this.pushBuf(this.H, this.emitted);
      this.n = 0;
    }
    this.hashInto(SCRATCH, DIGEST);
    const ho = this.n * 32;
    const bo = this.n * NODE_BYTES;
    const H32 = this.H32;
    const BV = this.BV;
    if (H32 !== undefined && BV !== undefined) {
      // Word copies: TypedArray.set costs a native call, byte loops four times the loads.
      const h = ho >> 2;
      for (let k = 0; k < 8; k++) H32[h + k] = DIGEST32[k]!;
      BV.setUint8(bo, SCRATCH[0]!);
      for (let k = 1; k < NODE_BYTES; k += 4) BV.setInt32(bo + k, SCRATCH_VIEW.getInt32(k));
    } else {
      copy32Bytes(this.H, ho, DIGEST, 0);
      const B = this.B;
      for (let k = 0; k < NODE_BYTES; k++) B[bo + k] = SCRATCH[k]!;
    }
    this.K[this.n * 2] = scratchLeft;
    this.K[this.n * 2 + 1] = scratchRight;
    this.n++;
    this.outId = this.hId;
    this.outOff = ho;
  }
}

/**
 * Partitions idx[lo..hi) in place so entries whose path (at `paths[32 * idx[i]]`) has bit d = 0
 * come first; returns the split point. Repeated per level this sorts a batch by path for free.
 */
export function partitionByBit(idx: Int32Array, paths: Uint8Array, lo: number, hi: number, d: number): number {
  const byte = d >>> 3;
  const shift = 7 - (d & 7);
  let i = lo;
  let j = hi - 1;
  for (;;) {
    while (i <= j && ((paths[idx[i]! * 32 + byte]! >>> shift) & 1) === 0) i++;
    while (i <= j && ((paths[idx[j]! * 32 + byte]! >>> shift) & 1) === 1) j--;
    if (i > j) return i;
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
    i++;
    j--;
  }
}
