import type { Hash32 } from '../core/hash.ts';
import { MemoryNodeStore, type NodeLocation } from '../core/smt/memory-store.ts';
import type { CachedNodeReader, NodeStore, StoredNode } from '../core/smt/node-store.ts';
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

/** A content-addressed blob (node or value) as read from the store underneath. */
type Entry = { hash: Hash32; bytes: Uint8Array };

/**
 * The node half of the cache: two generations, as in `Lru`, each a `MemoryNodeStore` (an
 * open-addressing table over packed buffers). A lookup reads the hash where it lies, with no
 * string key, no copy and no allocation per node, which is most of a proof's cost once the tree is
 * in memory. Node hashes come partly from outsiders' keys, so the bytes that pick a slot are at a
 * secret offset: a ground hash prefix clusters nothing.
 */
class NodeGenerations {
  private young: MemoryNodeStore;
  private old: MemoryNodeStore;
  private readonly half: number;
  private readonly probeOffset = crypto.getRandomValues(new Uint8Array(1))[0]! % 25;
  private readonly loc: NodeLocation = { buf: new Uint8Array(0), off: 0 };

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
    this.half = Math.max(1, Math.floor(capacity / 2));
    this.young = this.fresh();
    this.old = this.fresh();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Sets `into` to where the node's 65 bytes sit (read-only); an old-generation hit moves up. */
  locate(hash: Uint8Array, off: number, into: NodeLocation): boolean {
    if (this.young.locate(hash, off, into)) return true;
    if (!this.old.locate(hash, off, into)) return false;
    this.add([{ hash: hash.subarray(off, off + 32), bytes: into.buf.subarray(into.off, into.off + NODE_BYTES) }]);
    return this.young.locate(hash, off, into);
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    const l = this.loc;
    return this.locate(hash, 0, l) ? l.buf.subarray(l.off, l.off + NODE_BYTES) : undefined;
  }

  /** Copies the nodes into the young generation, turning generations over as it fills. */
  add(nodes: readonly StoredNode[]): void {
    let at = 0;
    while (at < nodes.length) {
      if (this.young.size >= this.half) {
        this.old = this.young;
        this.young = this.fresh();
      }
      const take = Math.min(nodes.length - at, this.half - this.young.size);
      this.young.putCopies(at === 0 && take === nodes.length ? nodes : nodes.slice(at, at + take));
      at += take;
    }
  }

  private fresh(): MemoryNodeStore {
    return new MemoryNodeStore({ probeOffset: this.probeOffset });
  }
}

/**
 * Read-through cache in front of a node/value store. Nodes and values are content-addressed and
 * immutable, so a cached entry can never be stale: no invalidation exists or is needed. Misses go
 * to the inner store in one `getMany` per call. Writes go through first and are cached after the
 * inner store accepted them.
 */
export class CachedNodeStore implements NodeStore, ValueStore, CachedNodeReader {
  private readonly nodes: NodeGenerations;
  private readonly values: Lru<Uint8Array>;
  private readonly loc: NodeLocation = { buf: new Uint8Array(0), off: 0 };
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

  getMany(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]> {
    return this.readThrough(
      hashes,
      (h) => (h.length === 32 ? this.nodes.get(h) : undefined),
      (h) => this.inner.getMany(h),
      // A malformed row is handed on as it is (the tree refuses it) but never cached.
      (loaded) => this.nodes.add(loaded.filter((n) => n.bytes.length === NODE_BYTES && n.hash.length === 32)),
    );
  }

  /** The tree's synchronous path: -1 when every node is cached, else the first miss (see CachedNodeReader). */
  locateCachedMany(hashes: readonly Uint8Array[], offs: Int32Array, n: number, outBufs: Uint8Array[], outOffs: Int32Array): number {
    const loc = this.loc;
    for (let i = 0; i < n; i++) {
      if (!this.nodes.locate(hashes[i]!, offs[i]!, loc)) return i;
      // Offset 0 would read as "a whole 65-byte row" to the tree: hand out a view of exactly that.
      if (loc.off === 0) {
        outBufs[i] = loc.buf.subarray(0, NODE_BYTES);
        outOffs[i] = 0;
      } else {
        outBufs[i] = loc.buf;
        outOffs[i] = loc.off;
      }
    }
    this.hits += n;
    return -1;
  }

  async putMany(nodes: readonly StoredNode[]): Promise<void> {
    await this.inner.putMany(nodes);
    this.remember(nodes);
  }

  getValues(hashes: readonly Hash32[]): Promise<(Uint8Array | undefined)[]> {
    const inner = this.inner.getValues?.bind(this.inner);
    if (!inner) return Promise.reject(new Error('inner store keeps no values'));
    return this.readThrough(
      hashes,
      (h) => this.values.get(hashKey(h)),
      inner,
      (loaded) => loaded.forEach((v) => this.values.set(hashKey(v.hash), v.bytes)),
    );
  }

  async putValues(values: readonly StoredValue[]): Promise<void> {
    if (!this.inner.putValues) throw new Error('inner store keeps no values');
    await this.inner.putValues(values);
    this.remember([], values);
  }

  /**
   * Remember entries that were written elsewhere (e.g. by a committed round) without a read.
   * Copies them: the tree hands out views into large packed buffers, and a cached view would keep
   * its whole buffer alive.
   */
  remember(nodes: readonly StoredNode[], values: readonly StoredValue[] = []): void {
    this.nodes.add(nodes);
    for (const v of values) this.values.set(hashKey(v.hash), v.bytes.slice());
  }

  /** Answers hits from memory, loads the misses in one call, and hands what was found to `keep`. */
  private async readThrough(
    hashes: readonly Hash32[],
    cached: (hash: Hash32) => Uint8Array | undefined,
    load: (hashes: readonly Hash32[]) => Promise<(Uint8Array | undefined)[]>,
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
      const loaded = await load(missing);
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
