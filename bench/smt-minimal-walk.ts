/**
 * A yardstick for bench/smt.ts: about the least work a batched update of a SPEC §4 tree held in
 * memory can do in JavaScript on this machine. The tree lives in flat typed arrays (a hash and two
 * child ids per node); a batch of updates to existing keys walks down by child ids, partitions
 * the writes by path bit (the tree's own partition) and hashes each new node with the given
 * hasher. It keeps nothing else: no hash index, no deletes or inserts, no checks, no canonical
 * JSON (value hashes come ready). The real tree must do all of that, so it cannot beat this; the
 * gap between the two is what the real tree's other duties cost.
 *
 * Inner nodes with one empty side are built as SPEC §4 has them, so a batch creates as many nodes
 * as the real tree's does.
 */
import { partitionByBit, type HashInto } from '../src/core/smt/apply-batch.ts';

export interface MinimalWalk {
  /** Microseconds per update, walk and hashing of new nodes only. */
  us: number;
  nodesPerUpdate: number;
}

export function minimalWalk(hashInto: HashInto, pathOf: (i: number, out: Uint8Array) => void, n: number, batchSize: number, batches: number, pick: (j: number) => number): MinimalWalk {
  const EMPTY = -1;
  let cap = 1 << 21;
  let H = new Int32Array(cap * 8);
  let L = new Int32Array(cap);
  let R = new Int32Array(cap);
  let count = 0;
  const S = new Uint8Array(new ArrayBuffer(65));
  const SV = new DataView(S.buffer);
  const D = new Uint8Array(new ArrayBuffer(32));
  const D32 = new Int32Array(D.buffer);
  const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

  const grow = () => {
    cap *= 2;
    const h = new Int32Array(cap * 8);
    h.set(H);
    H = h;
    const l = new Int32Array(cap);
    l.set(L);
    L = l;
    const r = new Int32Array(cap);
    r.set(R);
    R = r;
  };
  const emit = (l: number, r: number): number => {
    if (count === cap) grow();
    hashInto(S, D);
    const id = count++;
    for (let k = 0; k < 8; k++) H[id * 8 + k] = D32[k]!;
    L[id] = l;
    R[id] = r;
    return id;
  };
  const leaf = (P: Uint8Array, V: Uint8Array, e: number): number => {
    S[0] = 0;
    for (let k = 0; k < 32; k++) {
      S[1 + k] = P[e * 32 + k]!;
      S[33 + k] = V[e * 32 + k]!;
    }
    return emit(EMPTY, EMPTY);
  };
  const copyHash = (to: number, id: number) => {
    for (let k = 0; k < 8; k++) SV.setInt32(to + 4 * k, id === EMPTY ? 0 : H[id * 8 + k]!, le);
  };
  const inner = (l: number, r: number): number => {
    S[0] = 1;
    copyHash(1, l);
    copyHash(33, r);
    return emit(l, r);
  };
  const build = (idx: Int32Array, P: Uint8Array, V: Uint8Array, lo: number, hi: number, d: number): number => {
    if (hi - lo === 1) return leaf(P, V, idx[lo]!);
    const mid = partitionByBit(idx, P, lo, hi, d);
    const l = mid === lo ? EMPTY : build(idx, P, V, lo, mid, d + 1);
    const r = mid === hi ? EMPTY : build(idx, P, V, mid, hi, d + 1);
    return inner(l, r);
  };
  // Updates existing keys only: every write ends at the leaf of its own path.
  const update = (id: number, idx: Int32Array, P: Uint8Array, V: Uint8Array, lo: number, hi: number, d: number): number => {
    if (L[id]! === EMPTY && R[id]! === EMPTY) return leaf(P, V, idx[lo]!);
    const mid = partitionByBit(idx, P, lo, hi, d);
    const l = L[id]!;
    const r = R[id]!;
    return inner(lo < mid ? update(l, idx, P, V, lo, mid, d + 1) : l, mid < hi ? update(r, idx, P, V, mid, hi, d + 1) : r);
  };

  const paths = new Uint8Array(n * 32);
  const path = new Uint8Array(32);
  for (let i = 0; i < n; i++) {
    pathOf(i, path);
    paths.set(path, i * 32);
  }
  const values = new Uint8Array(n * 32);
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  let root = build(all, paths, values, 0, n, 0);

  let ms = 0;
  let made = 0;
  for (let b = 0; b < batches + 1; b++) {
    const P = new Uint8Array(batchSize * 32);
    const V = new Uint8Array(batchSize * 32);
    const seen = new Set<number>();
    let c = 0;
    for (let j = 0; c < batchSize; j++) {
      const k = pick(j + b * batchSize);
      if (seen.has(k)) continue;
      seen.add(k);
      P.set(paths.subarray(k * 32, k * 32 + 32), c * 32);
      V[c * 32] = b + 1;
      V[c * 32 + 1] = c & 255;
      c++;
    }
    const idx = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) idx[i] = i;
    const before = count;
    const t = performance.now();
    root = update(root, idx, P, V, 0, batchSize, 0);
    // The first batch warms the code up and is not counted.
    if (b > 0) {
      ms += performance.now() - t;
      made += count - before;
    }
  }
  if (root < 0) throw new Error('unreachable');
  const updates = batches * batchSize;
  return { us: (ms * 1000) / updates, nodesPerUpdate: made / updates };
}
