import { fail } from '../errors.ts';
import { EMPTY_HASH, sha256, type Hash32, type Sha256 } from '../hash.ts';
import { utf8 } from '../hex.ts';
import { jcs, type JsonValue } from '../jcs.ts';
import { applyBatch, partitionByBit, type HashInto, type PackedBatch } from './apply-batch.ts';
import { INNER_TAG, LEAF_TAG, MAX_DEPTH_BITS, NODE_BYTES, bitAt, checkedKey, hex32, isEmptyHash } from './hashing.ts';
import { RECORD_BYTES, isCachedNodeReader, refAt, type CachedNodeReader, type NewNodes, type NodeReader, type PackedNodes } from './node-store.ts';
import type { Proof, ProofLeaf } from './types.ts';
import { VIEW_MIN_BYTES, byteArray, bytes, copy32Bytes, equal32, isZero32 } from './words.ts';

export interface TreeWrite {
  key: string;
  /** `null` deletes the key. */
  value: JsonValue | null;
}

export interface HashedWrite {
  path: Hash32;
  /** `null` deletes the leaf at `path`. */
  valueHash: Hash32 | null;
}

export interface StoredValue {
  hash: Hash32;
  /** `jcs(value)` as UTF-8; `hash = H(bytes)`. */
  bytes: Uint8Array;
}

/** A batch's new nodes (`NewNodes`: packed, children first, with the root's reference) and values. */
export interface ApplyResult extends NewNodes {
  /** Canonical bytes of the values written, one per distinct value. */
  readonly values: StoredValue[];
}

export interface TreeOptions {
  /** SHA-256 to use; defaults to noble's. A runtime passes a native one. */
  hash?: Sha256;
  /** Optional allocation-free form of the same SHA-256 (e.g. `Bun.SHA256.hash(data, out)`). */
  hashInto?: HashInto;
  /**
   * Optional: SHA-256 of a string's UTF-8 into `out`, without making the bytes (e.g.
   * `Bun.SHA256.hash(text, out)`). The tree passes it only well-formed strings (keys are checked,
   * canonical JSON escapes lone surrogates), whose UTF-8 is unambiguous.
   */
  hashTextInto?: HashTextInto;
}

export type HashTextInto = (text: string, out: Uint8Array) => void;

/** What `SparseMerkleTree.walk` reports: node bytes at `b[o..]`, keys `idx[lo..hi)` below it. */
interface WalkVisitor {
  leaf(b: Uint8Array, o: number, idx: Int32Array, lo: number, hi: number): void;
  /** An inner node: keys `idx[lo..mid)` go left, `idx[mid..hi)` right. */
  inner?(b: Uint8Array, o: number, idx: Int32Array, lo: number, mid: number, hi: number): void;
}

/** Where `apply` hashes each key and value before copying it into the batch (used synchronously only). */
const PATH_DIGEST = bytes(32);
const PATH_DIGEST32 = new Int32Array(PATH_DIGEST.buffer);

/** Copies PATH_DIGEST to entry `i` of `out`, a word at a time through `out32` when the batch has that view. */
function putDigest(out: Uint8Array, out32: Int32Array | undefined, i: number): void {
  if (out32 !== undefined) for (let k = 0; k < 8; k++) out32[i * 8 + k] = PATH_DIGEST32[k]!;
  else copy32Bytes(out, i * 32, PATH_DIGEST, 0);
}

/** Result of a batch: `values` are made from the canonical texts only when someone asks. */
class BatchResult implements ApplyResult {
  private valueList: StoredValue[] | undefined;
  firstId?: number;
  constructor(
    readonly root: Hash32,
    readonly rootRef: number,
    readonly packed: PackedNodes[],
    /** Each write's canonical text (undefined for a delete); its hash is at the same place in `valueHashes`. */
    private readonly texts: readonly (string | undefined)[],
    private readonly valueHashes: Uint8Array,
  ) {}
  /** One entry per distinct text, in order of first appearance. */
  get values(): StoredValue[] {
    if (this.valueList === undefined) {
      const seen = new Set<string>();
      this.valueList = [];
      this.texts.forEach((text, i) => {
        if (text === undefined || seen.has(text)) return;
        seen.add(text);
        this.valueList!.push({ hash: this.valueHashes.slice(i * 32, i * 32 + 32), bytes: utf8(text) });
      });
    }
    return this.valueList;
  }
}

/**
 * The compact binary sparse Merkle tree of SPEC §4 over an injected node store. Trees are
 * persistent: `apply` never changes a node, it returns new ones, so every old root stays readable.
 * The tree keeps no state of its own besides the store and the hash function.
 */
export class SparseMerkleTree {
  private readonly hash: Sha256;
  private readonly hashInto: HashInto;
  private readonly hashTextInto: HashTextInto;
  private readonly cached: CachedNodeReader | undefined;

  constructor(
    private readonly store: NodeReader,
    opts: TreeOptions = {},
  ) {
    const hash = opts.hash ?? sha256;
    this.hash = hash;
    const hashInto: HashInto = opts.hashInto ?? ((data, out) => out.set(hash(data)));
    this.hashInto = hashInto;
    this.hashTextInto = opts.hashTextInto ?? ((text, out) => hashInto(utf8(text), out));
    this.cached = isCachedNodeReader(store) ? store : undefined;
  }

  /** Applies writes in one batch; for a key written twice the last write wins. */
  async apply(root: Hash32, writes: Iterable<TreeWrite>): Promise<ApplyResult> {
    const last = new Map<string, JsonValue | null>();
    for (const w of writes) last.set(checkedKey(w.key), w.value);

    const count = last.size;
    const batch: PackedBatch = {
      count,
      paths: byteArray(count * 32),
      valueHashes: byteArray(count * 32),
      deleted: new Uint8Array(count),
    };
    // The canonical text of each write's value (undefined for a delete); a run of equal texts is
    // hashed once. Deduplicating across the whole batch waits until someone asks for `values`:
    // a map of every text cost a fifth of this loop.
    const texts: (string | undefined)[] = new Array(count);
    let prevText: string | undefined;
    let prevAt = -1;
    const digest = PATH_DIGEST;
    const words = batch.paths.length >= VIEW_MIN_BYTES;
    const paths32 = words ? new Int32Array(batch.paths.buffer) : undefined;
    const values32 = words ? new Int32Array(batch.valueHashes.buffer) : undefined;
    let i = 0;
    for (const [key, value] of last) {
      this.hashTextInto(key, digest);
      putDigest(batch.paths, paths32, i);
      if (value === null) {
        batch.deleted[i] = 1;
      } else {
        const text = jcs(value);
        texts[i] = text;
        if (text === prevText) {
          copy32Bytes(batch.valueHashes, i * 32, batch.valueHashes, prevAt * 32);
        } else {
          this.hashTextInto(text, digest);
          putDigest(batch.valueHashes, values32, i);
          prevText = text;
          prevAt = i;
        }
      }
      i++;
    }
    const { root: newRoot, rootRef, packed } = await applyBatch(this.store, this.hashInto, root, batch);
    return new BatchResult(newRoot, rootRef, packed, texts, batch.valueHashes);
  }

  /** Same as `apply` for callers that already hold paths and value hashes; last write per path wins. */
  async applyHashed(root: Hash32, writes: readonly HashedWrite[]): Promise<ApplyResult> {
    const last = new Map<string, HashedWrite>();
    for (const w of writes) {
      if (w.path.length !== 32) fail('invalid_length', 'path must be 32 bytes');
      if (w.valueHash !== null && w.valueHash.length !== 32) fail('invalid_length', 'valueHash must be 32 bytes');
      last.set(hex32(w.path), w);
    }
    const count = last.size;
    const batch: PackedBatch = {
      count,
      paths: byteArray(count * 32),
      valueHashes: byteArray(count * 32),
      deleted: new Uint8Array(count),
    };
    let i = 0;
    for (const w of last.values()) {
      batch.paths.set(w.path, i * 32);
      if (w.valueHash === null) batch.deleted[i] = 1;
      else batch.valueHashes.set(w.valueHash, i * 32);
      i++;
    }
    const { root: newRoot, rootRef, packed } = await applyBatch(this.store, this.hashInto, root, batch);
    return new BatchResult(newRoot, rootRef, packed, [], batch.valueHashes);
  }

  /** The value hash stored under `key`, or `null` when the key is absent. */
  async getValueHash(root: Hash32, key: string): Promise<Hash32 | null> {
    const path = this.hash(utf8(checkedKey(key)));
    let buf = root;
    let off = 0;
    for (let d = 0; ; d++) {
      if (isZero32(buf, off)) return null;
      const [[b], [o]] = (this.cached !== undefined && readCached(this.cached, [buf], [off], d)) || (await this.readNodes([buf], [off], d));
      if (b![o!] === LEAF_TAG) return equal32(b!, o! + 1, path, 0) ? b!.slice(o! + 33, o! + 65) : null;
      if (d >= MAX_DEPTH_BITS) fail('missing_node', 'stored tree is deeper than 256', { depth: d });
      buf = b!;
      off = o! + (bitAt(path, d) === 0 ? 1 : 33);
    }
  }

  /** SPEC §4 proof for `key`: inclusion when present, exclusion otherwise. */
  async prove(root: Hash32, key: string): Promise<Proof> {
    return (await this.proveMany(root, [key]))[0]!;
  }

  /** Proofs for many keys, reading each tree level once for all of them. */
  async proveMany(root: Hash32, keys: readonly string[]): Promise<Proof[]> {
    const n = keys.length;
    // Siblings are collected root first as hex, each shared sibling converted once.
    const siblings: string[][] = Array.from({ length: n }, () => []);
    const leaves: (ProofLeaf | null)[] = new Array(n).fill(null);
    await this.walk(root, this.pathsOf(keys), n, {
      leaf(b, o, idx, lo, hi) {
        const leaf = { path: hex32(b, o + 1), valueHash: hex32(b, o + 33) };
        for (let r = lo; r < hi; r++) leaves[idx[r]!] = leaf;
      },
      inner(b, o, idx, lo, mid, hi) {
        if (lo < mid) {
          const right = hex32(b, o + 33);
          for (let r = lo; r < mid; r++) siblings[idx[r]!]!.push(right);
        }
        if (mid < hi) {
          const left = hex32(b, o + 1);
          for (let r = mid; r < hi; r++) siblings[idx[r]!]!.push(left);
        }
      },
    });
    const rootHex = hex32(root);
    const out = new Array<Proof>(n);
    for (let i = 0; i < n; i++) {
      out[i] = { key: keys[i]!, root: rootHex, leaf: leaves[i]!, siblings: siblings[i]!.reverse() };
    }
    return out;
  }

  /**
   * The value hash stored under each key (null when absent): proveMany's walk, one read per level
   * for all keys, without collecting siblings — a state read that needs no proof (the leader's
   * program reads) skips their hex encoding and arrays.
   */
  async getValueHashes(root: Hash32, keys: readonly string[]): Promise<(Hash32 | null)[]> {
    const n = keys.length;
    const paths = this.pathsOf(keys);
    const out = new Array<Hash32 | null>(n).fill(null);
    await this.walk(root, paths, n, {
      leaf(b, o, idx, lo, hi) {
        for (let r = lo; r < hi; r++) {
          const i = idx[r]!;
          if (equal32(b, o + 1, paths, i * 32)) out[i] = b.slice(o + 33, o + 65);
        }
      },
    });
    return out;
  }

  /** The keys' paths, packed: key `i` at `[32i, 32i + 32)`. */
  private pathsOf(keys: readonly string[]): Uint8Array {
    const paths = new Uint8Array(keys.length * 32);
    for (let i = 0; i < keys.length; i++) paths.set(this.hash(utf8(checkedKey(keys[i]!))), i * 32);
    return paths;
  }

  /**
   * Walks from `root` toward the `n` paths, reading each level once for all of them: reports each
   * leaf reached and each inner node passed with the keys `idx[lo..hi)` below it (split by the
   * level's bit at `mid`), and descends into the non-empty children that keys lead to.
   */
  private async walk(root: Hash32, paths: Uint8Array, n: number, visit: WalkVisitor): Promise<void> {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    // Frontier: hash at (buf, off) covering keys idx[lo..hi).
    let fBuf: Uint8Array[] = [];
    let fOff: number[] = [];
    let fLo: number[] = [];
    let fHi: number[] = [];
    if (n > 0 && !isEmptyHash(root)) {
      fBuf.push(root);
      fOff.push(0);
      fLo.push(0);
      fHi.push(n);
    }
    for (let d = 0; fBuf.length > 0; d++) {
      const [nBufs, nOffs] = (this.cached !== undefined && readCached(this.cached, fBuf, fOff, d)) || (await this.readNodes(fBuf, fOff, d));
      const next = { buf: [] as Uint8Array[], off: [] as number[], lo: [] as number[], hi: [] as number[] };
      for (let f = 0; f < fBuf.length; f++) {
        const lo = fLo[f]!;
        const hi = fHi[f]!;
        const b = nBufs[f]!;
        const o = nOffs[f]!;
        if (b[o] === LEAF_TAG) {
          visit.leaf(b, o, idx, lo, hi);
          continue;
        }
        if (d >= MAX_DEPTH_BITS) fail('missing_node', 'stored tree is deeper than 256', { depth: d });
        const mid = partitionByBit(idx, paths, lo, hi, d);
        visit.inner?.(b, o, idx, lo, mid, hi);
        if (lo < mid && !isZero32(b, o + 1)) next.buf.push(b), next.off.push(o + 1), next.lo.push(lo), next.hi.push(mid);
        if (mid < hi && !isZero32(b, o + 33)) next.buf.push(b), next.off.push(o + 33), next.lo.push(mid), next.hi.push(hi);
      }
      fBuf = next.buf;
      fOff = next.off;
      fLo = next.lo;
      fHi = next.hi;
    }
  }

  /** Reads the nodes whose hashes sit at (bufs[i], offs[i]) through `getMany`. */
  private async readNodes(bufs: Uint8Array[], offs: number[], depth: number): Promise<[Uint8Array[], number[]]> {
    const got = await this.store.getMany(
      bufs.map((b, i) => (offs[i] === 0 && b.length === 32 ? b : b.subarray(offs[i]!, offs[i]! + 32))),
      bufs.map((b, i) => refAt(b, offs[i]!)),
    );
    return [got.map((b) => checkNode(b, depth)), new Array<number>(bufs.length).fill(0)];
  }

}

/** `readNodes` from a cache's synchronous path; null when any node of the level is not cached. */
function readCached(store: CachedNodeReader, bufs: Uint8Array[], offs: number[], depth: number): [Uint8Array[], number[]] | null {
  const n = bufs.length;
  const outBufs = new Array<Uint8Array>(n);
  const outOffs = new Int32Array(n);
  if (store.locateCachedMany(bufs, Int32Array.from(offs), n, outBufs, outOffs) >= 0) return null;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const b = outBufs[i]!;
    const o = outOffs[i]!;
    // Same checks as checkNode on a getMany answer.
    if (b.length < o + NODE_BYTES || b[o]! > INNER_TAG) fail('missing_node', 'stored tree node is malformed', { depth });
    if (b[o] === INNER_TAG && depth >= MAX_DEPTH_BITS) fail('missing_node', 'stored tree is deeper than 256', { depth });
    out[i] = o;
  }
  return [outBufs, out];
}

function checkNode(b: Uint8Array | undefined, depth: number): Uint8Array {
  if (b === undefined) fail('missing_node', 'tree node missing from the store', { depth });
  if ((b.length !== NODE_BYTES && b.length !== RECORD_BYTES) || b[0]! > INNER_TAG) fail('missing_node', 'stored tree node is malformed', { depth });
  if (b[0] === INNER_TAG && depth >= MAX_DEPTH_BITS) fail('missing_node', 'stored tree is deeper than 256', { depth });
  return b;
}

export { EMPTY_HASH };
