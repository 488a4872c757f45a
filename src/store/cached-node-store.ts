import type { Hash32 } from '../core/hash.ts';
import { NO_REF, RECORD_BYTES, SELF_REF_AT, newIndex, writeRef, type CachedNodeReader, type NewNodes, type NodeStore } from '../core/smt/node-store.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { ValueStore } from '../core/state-reader.ts';
import { hashKey } from './sql.ts';

/**
 * A bounded cache with LRU-like eviction in two generations: hits in the young map cost one
 * lookup (no delete + re-insert on every hit, which profiles showed at 9-16% of a state read);
 * a hit in the old generation moves the entry to the young one; when the young map fills half
 * the capacity, the old generation is dropped whole. Holds at most `capacity` entries.
 */
export class Lru<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;
  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
    this.half = Math.max(1, Math.floor(capacity / 2));
  }
  get size(): number {
    return this.young.size + this.old.size;
  }
  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.put(key, o);
    }
    return o;
  }
  set(key: string, v: V): void {
    this.old.delete(key);
    this.put(key, v);
  }
  private put(key: string, v: V): void {
    if (!this.young.has(key) && this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, v);
  }
}

export interface CacheOptions {
  /** Tree nodes kept (≈ 130 bytes each). Default 200 000. */
  maxNodes?: number;
  /** Values kept. Default 20 000. */
  maxValues?: number;
}

const NODE_BYTES = 65;

/** A node or value as read from the store underneath, by its hash. */
type Entry = { hash: Hash32; bytes: Uint8Array };

/** Where a node's 65 bytes sit: `buf[off, off + 65)`. */
interface NodeLocation {
  buf: Uint8Array;
  off: number;
}

/**
 * A fixed number of nodes in two flat buffers (hashes, records: the node's bytes and the store's
 * references, RECORD_BYTES each, so the tree finds a child's reference where it found its hash)
 * with an open-addressing index:
 * a lookup reads the hash where it lies, with no string key, no copy and no allocation per node,
 * which is most of a proof's cost once the tree is in memory. Never deletes: the cache drops a
 * whole table at once. Entry 0 is left unused so no node sits at offset 0 (the tree reads a
 * buffer handed out at offset 0 as one whole 65-byte row).
 */
class NodeTable {
  private readonly hashes: Uint8Array;
  private readonly bytes: Uint8Array;
  /** Entry number per slot, 0 = free; at least twice as many slots as entries. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(
    readonly capacity: number,
    /** Which 4 bytes of a hash pick its slot (see NodeGenerations). */
    private readonly at: number,
  ) {
    this.hashes = new Uint8Array((capacity + 1) * 32);
    this.bytes = new Uint8Array((capacity + 1) * RECORD_BYTES);
    let n = 2;
    while (n < capacity * 2) n *= 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Sets `into` to the node whose hash is `hash[off, off + 32)`; false when it is not held. */
  locate(hash: Uint8Array, off: number, into: NodeLocation): boolean {
    const e = this.slots[this.slotOf(hash, off)]!;
    if (e === 0) return false;
    into.buf = this.bytes;
    into.off = e * RECORD_BYTES;
    return true;
  }

  /** Copies a node in (unless held or full): a record, or bare 65 bytes whose references stay NO_REF (zero). */
  add(hash: Uint8Array, bytes: Uint8Array): void {
    const slot = this.slotOf(hash, 0);
    if (this.slots[slot] !== 0 || this.full) return;
    const e = ++this.size;
    this.hashes.set(hash, e * 32);
    this.bytes.set(bytes.length > RECORD_BYTES ? bytes.subarray(0, RECORD_BYTES) : bytes, e * RECORD_BYTES);
    this.slots[slot] = e;
  }

  /** The slot holding `hash`, or the free slot where it belongs. */
  private slotOf(h: Uint8Array, off: number): number {
    const o = off + this.at;
    let slot = (h[o]! | (h[o + 1]! << 8) | (h[o + 2]! << 16) | (h[o + 3]! << 24)) & this.mask;
    const hashes = this.hashes;
    for (;;) {
      const e = this.slots[slot]!;
      if (e === 0) return slot;
      let same = true;
      for (let i = 0; i < 32; i++) {
        if (hashes[e * 32 + i] !== h[off + i]) {
          same = false;
          break;
        }
      }
      if (same) return slot;
      slot = (slot + 1) & this.mask;
    }
  }
}

/**
 * The node half of the cache: two generations, as in `Lru`, each a `NodeTable`. Node hashes come
 * partly from outsiders' keys, so the bytes that pick a slot are at a secret offset: a ground hash
 * prefix clusters nothing.
 */
class NodeGenerations {
  private young: NodeTable;
  private old: NodeTable;
  private readonly half: number;
  private readonly probeOffset = crypto.getRandomValues(new Uint8Array(1))[0]! % 29;
  private readonly loc: NodeLocation = { buf: new Uint8Array(0), off: 0 };

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
    this.half = Math.max(1, Math.floor(capacity / 2));
    this.young = new NodeTable(this.half, this.probeOffset);
    this.old = new NodeTable(this.half, this.probeOffset);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Sets `into` to where the node's record sits (read-only); an old-generation hit moves up. */
  locate(hash: Uint8Array, off: number, into: NodeLocation): boolean {
    if (this.young.locate(hash, off, into)) return true;
    if (!this.old.locate(hash, off, into)) return false;
    this.add(hash.subarray(off, off + 32), into.buf.subarray(into.off, into.off + RECORD_BYTES));
    return this.young.locate(hash, off, into);
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    const l = this.loc;
    return this.locate(hash, 0, l) ? l.buf.subarray(l.off, l.off + RECORD_BYTES) : undefined;
  }

  /** Copies a node into the young generation, turning generations over when it is full. */
  add(hash: Uint8Array, bytes: Uint8Array): void {
    if (this.young.full) {
      this.old = this.young;
      this.young = new NodeTable(this.half, this.probeOffset);
    }
    this.young.add(hash, bytes);
  }
}

/**
 * Read-through cache in front of a node/value store, by hash. Nodes and values are immutable, so
 * a cached entry can never be stale: no invalidation exists or is needed (two stored copies of a
 * node are interchangeable, whichever one's references are kept). Misses go to the inner store in
 * one `getMany` per call, with the references the tree gave. Writes go through first and are
 * cached after the inner store accepted them.
 */
export class CachedNodeStore implements NodeStore, ValueStore, CachedNodeReader {
  private readonly nodes: NodeGenerations;
  private readonly values: Lru<Uint8Array>;
  private readonly loc: NodeLocation = { buf: new Uint8Array(0), off: 0 };
  private readonly scratch = new Uint8Array(RECORD_BYTES);
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: NodeStore & Partial<ValueStore>,
    opts: CacheOptions = {},
  ) {
    this.nodes = new NodeGenerations(opts.maxNodes ?? 200_000);
    this.values = new Lru(opts.maxValues ?? 20_000);
  }

  /** Nodes held in memory now. */
  get cachedNodes(): number {
    return this.nodes.size;
  }

  getMany(hashes: readonly Hash32[], refs?: readonly number[]): Promise<(Uint8Array | undefined)[]> {
    return this.readThrough(
      hashes,
      (h) => (h.length === 32 ? this.nodes.get(h) : undefined),
      (h, at) => this.inner.getMany(h, refs && at.map((i) => refs[i]!)),
      // A malformed row is handed on as it is (the tree refuses it) but never cached.
      (loaded) =>
        loaded.forEach((n) => (n.bytes.length === NODE_BYTES || n.bytes.length === RECORD_BYTES) && n.hash.length === 32 && this.nodes.add(n.hash, n.bytes)),
    );
  }

  /** The tree's synchronous path: -1 when every node is cached, else the first miss (see CachedNodeReader). */
  locateCachedMany(hashes: readonly Uint8Array[], offs: Int32Array, n: number, outBufs: Uint8Array[], outOffs: Int32Array): number {
    const loc = this.loc;
    for (let i = 0; i < n; i++) {
      if (!this.nodes.locate(hashes[i]!, offs[i]!, loc)) return i;
      outBufs[i] = loc.buf;
      outOffs[i] = loc.off;
    }
    this.hits += n;
    return -1;
  }

  async putMany(nodes: NewNodes): Promise<void> {
    await this.inner.putMany(nodes);
    this.remember(nodes);
  }

  getValues(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]> {
    const inner = this.inner.getValues?.bind(this.inner);
    if (!inner) return Promise.reject(new Error('inner store keeps no values'));
    return this.readThrough(
      hashes,
      (h) => this.values.get(hashKey(h)),
      (h) => inner(h),
      (loaded) => loaded.forEach((v) => this.values.set(hashKey(v.hash), v.bytes)),
    );
  }

  async putValues(values: readonly StoredValue[]): Promise<void> {
    if (!this.inner.putValues) throw new Error('inner store keeps no values');
    await this.inner.putValues(values);
    this.remember(undefined, values);
  }

  /**
   * Remember entries that were written elsewhere (e.g. by a committed round) without a read, with
   * the ids the store gave them (`nodes.firstId`; none from a store that does not number nodes).
   * Copies them: the tree hands out views into large packed buffers, and a cached view would keep
   * its whole buffer alive.
   */
  remember(nodes: NewNodes | undefined, values: readonly StoredValue[] = []): void {
    if (nodes !== undefined) {
      const first = nodes.firstId;
      const id = (ref: number): number => {
        const k = newIndex(ref);
        return k < 0 ? ref : first === undefined ? NO_REF : first + k;
      };
      const r = this.scratch;
      let k = 0;
      for (const p of nodes.packed) {
        for (let i = 0; i < p.count; i++, k++) {
          r.set(p.bytes.subarray(i * NODE_BYTES, i * NODE_BYTES + NODE_BYTES));
          writeRef(r, NODE_BYTES, id(p.kids[2 * i]!));
          writeRef(r, NODE_BYTES + 8, id(p.kids[2 * i + 1]!));
          writeRef(r, SELF_REF_AT, first === undefined ? NO_REF : first + k);
          this.nodes.add(p.hashes.subarray(i * 32, i * 32 + 32), r);
        }
      }
    }
    for (const v of values) this.values.set(hashKey(v.hash), v.bytes.slice());
  }

  /** Answers hits from memory, loads the misses in one call, and hands what was found to `keep`. */
  private async readThrough(
    hashes: readonly Hash32[],
    cached: (hash: Hash32) => Uint8Array | undefined,
    load: (hashes: readonly Hash32[], at: readonly number[]) => Promise<(Uint8Array | undefined)[]>,
    keep: (loaded: Entry[]) => void,
  ): Promise<(Uint8Array | undefined)[]> {
    const out = new Array<Uint8Array | undefined>(hashes.length);
    const missing: Hash32[] = [];
    const missingAt: number[] = [];
    for (let i = 0; i < hashes.length; i++) {
      const v = cached(hashes[i]!);
      if (v !== undefined) out[i] = v;
      else {
        missing.push(hashes[i]!);
        missingAt.push(i);
      }
    }
    this.hits += hashes.length - missing.length;
    this.misses += missing.length;
    if (missing.length > 0) {
      const loaded = await load(missing, missingAt);
      const found: Entry[] = [];
      for (let j = 0; j < missing.length; j++) {
        const v = loaded[j];
        out[missingAt[j]!] = v;
        if (v !== undefined) found.push({ hash: missing[j]!, bytes: v });
      }
      keep(found);
    }
    return out;
  }
}
