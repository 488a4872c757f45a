import { DstpError, fail } from './errors.ts';
import { sha256, type Sha256 } from './hash.ts';
import { bytesEqual, concatBytes, toHex } from './hex.ts';

/**
 * The RFC 6962 / RFC 9162 §2.1 Merkle Tree Hash, with inclusion and consistency proofs.
 * Used for `txRoot`, `receiptsRoot` (SPEC §8) and the checkpoint log (SPEC §9).
 *
 * Proof builders read the tree only through `SubtreeHash` — MTH(D[start:end]) — so a log that
 * stores subtree hashes (and not every leaf) can build proofs. Sizes and indices are numbers
 * below 2^53; arithmetic avoids 32-bit bitwise operators for that reason.
 */

/** MTH(D[start:end]) for 0 <= start < end <= size. */
export type SubtreeHash = (start: number, end: number) => Uint8Array;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** `H(0x00 || d)` */
export function leafHash(data: Uint8Array, hash: Sha256 = sha256): Uint8Array {
  return hash(concatBytes(LEAF_PREFIX, data));
}

/** `H(0x01 || left || right)` */
export function nodeHash(left: Uint8Array, right: Uint8Array, hash: Sha256 = sha256): Uint8Array {
  return hash(concatBytes(NODE_PREFIX, left, right));
}

/** The hash of the empty tree, `H("")`. */
export function emptyRoot(hash: Sha256 = sha256): Uint8Array {
  return hash(new Uint8Array(0));
}

/** MTH over raw leaf data (each leaf is hashed with `leafHash`). */
export function merkleRoot(leaves: readonly Uint8Array[], hash: Sha256 = sha256): Uint8Array {
  return rootFromLeafHashes(
    leaves.map((d) => leafHash(d, hash)),
    hash,
  );
}

/**
 * MTH from leaf hashes. Pairing neighbours level by level and carrying an odd last node up
 * unchanged gives exactly RFC 6962's split at the largest power of two below n.
 */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[], hash: Sha256 = sha256): Uint8Array {
  if (leafHashes.length === 0) return emptyRoot(hash);
  let level: Uint8Array[] = leafHashes.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!, hash));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** Largest power of two strictly below n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/** A SubtreeHash over an in-memory list of leaf hashes (recomputes; fine for proof building). */
export function subtreeHashOf(leafHashes: readonly Uint8Array[], hash: Sha256 = sha256): SubtreeHash {
  const mth = (start: number, end: number): Uint8Array => {
    const n = end - start;
    if (n === 1) return leafHashes[start]!;
    const k = splitPoint(n);
    return nodeHash(mth(start, start + k), mth(start + k, end), hash);
  };
  return (start, end) => {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start < end && end <= leafHashes.length)) {
      fail('invalid_range', 'subtree range out of bounds', { start, end, size: leafHashes.length });
    }
    return mth(start, end);
  };
}

function assertSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) fail('invalid_range', `${what} must be a non-negative integer`, { [what]: n });
}

/** RFC 9162 §2.1.3.1 PATH(m, D[0:n]), leaf to root, from subtree hashes. */
export function inclusionProofFrom(subtree: SubtreeHash, size: number, index: number): Uint8Array[] {
  assertSize('size', size);
  assertSize('index', index);
  if (index >= size) fail('invalid_range', 'leaf index must be below the tree size', { index, size });
  const path: Uint8Array[] = [];
  // Walk from the root down, collecting the sibling subtree at each split; reverse at the end.
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push(subtree(start + k, end));
      end = start + k;
    } else {
      path.push(subtree(start, start + k));
      start = start + k;
    }
  }
  return path.reverse();
}

/** Inclusion proof for leaf `index` over raw leaf data. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, hash: Sha256 = sha256): Uint8Array[] {
  const hashes = leaves.map((d) => leafHash(d, hash));
  return inclusionProofFrom(subtreeHashOf(hashes, hash), hashes.length, index);
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true), from subtree hashes. */
export function consistencyProofFrom(subtree: SubtreeHash, size: number, oldSize: number): Uint8Array[] {
  assertSize('size', size);
  assertSize('oldSize', oldSize);
  if (oldSize > size) fail('invalid_range', 'old size must not exceed the new size', { oldSize, size });
  if (oldSize === 0 || oldSize === size) return [];
  const proof: Uint8Array[] = [];
  // Iterative SUBPROOF: descend towards the old tree's right edge, pushing the sibling subtrees.
  let start = 0;
  let end = size;
  let m = oldSize;
  let complete = true; // b in RFC 9162: is D[start:start+m] the whole old tree so far?
  const tail: Uint8Array[] = [];
  for (;;) {
    const n = end - start;
    if (m === n) {
      if (!complete) proof.push(subtree(start, end));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      tail.push(subtree(start + k, end));
      end = start + k;
    } else {
      tail.push(subtree(start, start + k));
      start = start + k;
      m -= k;
      complete = false;
    }
  }
  // SUBPROOF appends the sibling after the recursive part, so the deepest comes first.
  return proof.concat(tail.reverse());
}

/** Consistency proof between the first `oldSize` leaves and all of `leaves`. */
export function consistencyProof(leaves: readonly Uint8Array[], oldSize: number, hash: Sha256 = sha256): Uint8Array[] {
  const hashes = leaves.map((d) => leafHash(d, hash));
  return consistencyProofFrom(subtreeHashOf(hashes, hash), hashes.length, oldSize);
}

function proofError(message: string, details: Record<string, unknown>): DstpError {
  return new DstpError('invalid_proof', message, details);
}

function assertHashes(what: string, hashes: readonly Uint8Array[]): void {
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i];
    if (!(h instanceof Uint8Array) || h.length !== 32) {
      throw proofError(`${what}[${i}] is not a 32-byte hash`, { at: i, got: h instanceof Uint8Array ? h.length : typeof h });
    }
  }
}

function assert32(what: string, h: Uint8Array): void {
  if (!(h instanceof Uint8Array) || h.length !== 32) throw proofError(`${what} is not a 32-byte hash`, { what });
}

/** The root that an inclusion proof commits to (RFC 9162 §2.1.3.2 steps 1-4 without the compare). */
export function rootFromInclusionProof(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  hash: Sha256 = sha256,
): Uint8Array {
  assert32('leaf hash', leaf);
  assertHashes('proof', proof);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw proofError('leaf index is outside the tree', { index, size });
  }
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw proofError('inclusion proof is longer than the path to the root', { index, size, proofLength: proof.length });
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r, hash);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p, hash);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw proofError('inclusion proof is shorter than the path to the root', { index, size, proofLength: proof.length });
  return r;
}

/** Throws `invalid_proof` (with expected/got roots) unless `leaf` is at `index` in the tree `root`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  hash: Sha256 = sha256,
): void {
  assert32('root', root);
  const got = rootFromInclusionProof(leaf, index, size, proof, hash);
  if (!bytesEqual(got, root)) {
    throw proofError('inclusion proof does not lead to the root', { index, size, expected: toHex(root), got: toHex(got) });
  }
}

/**
 * RFC 9162 §2.1.4.2: throws `invalid_proof` naming which root did not match, unless the tree of
 * size `oldSize` with `oldRoot` is a prefix of the tree of size `size` with `root`.
 */
export function verifyConsistency(
  oldSize: number,
  size: number,
  oldRoot: Uint8Array,
  root: Uint8Array,
  proof: readonly Uint8Array[],
  hash: Sha256 = sha256,
): void {
  assert32('old root', oldRoot);
  assert32('new root', root);
  assertHashes('proof', proof);
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(size) || oldSize < 0 || size < oldSize) {
    throw proofError('sizes must satisfy 0 <= old size <= new size', { oldSize, size });
  }
  if (oldSize === size) {
    if (proof.length !== 0) throw proofError('proof between equal sizes must be empty', { size, proofLength: proof.length });
    if (!bytesEqual(oldRoot, root)) throw proofError('roots of equal sizes differ', { size, expected: toHex(oldRoot), got: toHex(root) });
    return;
  }
  if (oldSize === 0) {
    if (proof.length !== 0) throw proofError('proof from the empty tree must be empty', { size, proofLength: proof.length });
    return;
  }
  if (proof.length === 0) throw proofError('consistency proof is empty', { oldSize, size });

  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof.slice();
  let fn = oldSize - 1;
  let sn = size - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw proofError('consistency proof is too long', { oldSize, size, proofLength: proof.length });
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr, hash);
      sr = nodeHash(c, sr, hash);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c, hash);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw proofError('consistency proof is too short', { oldSize, size, proofLength: proof.length });
  if (!bytesEqual(fr, oldRoot)) {
    throw proofError('consistency proof does not lead to the old root', { which: 'old', oldSize, expected: toHex(oldRoot), got: toHex(fr) });
  }
  if (!bytesEqual(sr, root)) {
    throw proofError('consistency proof does not lead to the new root', { which: 'new', size, expected: toHex(root), got: toHex(sr) });
  }
}

function holds(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (e) {
    if (e instanceof DstpError) return false;
    throw e;
  }
}

export function isValidInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  hash: Sha256 = sha256,
): boolean {
  return holds(() => verifyInclusion(leaf, index, size, proof, root, hash));
}

export function isValidConsistency(
  oldSize: number,
  size: number,
  oldRoot: Uint8Array,
  root: Uint8Array,
  proof: readonly Uint8Array[],
  hash: Sha256 = sha256,
): boolean {
  return holds(() => verifyConsistency(oldSize, size, oldRoot, root, proof, hash));
}
