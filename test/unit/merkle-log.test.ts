import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { DstpError } from '../../src/core/errors.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import {
  consistencyProof,
  consistencyProofFrom,
  emptyRoot,
  inclusionProof,
  inclusionProofFrom,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  merkleRoot,
  rootFromLeafHashes,
  subtreeHashOf,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/merkle-log.ts';
import { nativeSha256 } from '../../src/platform/sha256.ts';
import v from '../vectors/rfc6962.json';

const leaves = v.leaves.map((h) => fromHex(h));
const roots = v.roots.map((h) => fromHex(h));
const hexes = (hs: Uint8Array[]) => hs.map(toHex);

function proofError(f: () => unknown): DstpError | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError && e.code === 'invalid_proof') return e;
    throw e;
  }
  return undefined;
}

/** RFC 6962 §2.1 MTH, written straight from the definition with node:crypto (independent of the code under test). */
function referenceMth(data: Uint8Array[]): string {
  const sha = (...parts: Uint8Array[]) => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  };
  const mth = (d: Uint8Array[]): Uint8Array => {
    if (d.length === 0) return sha();
    if (d.length === 1) return sha(new Uint8Array([0]), d[0]!);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return sha(new Uint8Array([1]), mth(d.slice(0, k)), mth(d.slice(k)));
  };
  return toHex(mth(data));
}

describe('RFC 6962 known answers (transparency-dev/merkle)', () => {
  test('empty tree is SHA-256("")', () => {
    expect(toHex(merkleRoot([]))).toBe(v.emptyRoot);
    expect(toHex(emptyRoot())).toBe(v.emptyRoot);
  });

  test('roots of sizes 1..8', () => {
    for (let n = 1; n <= 8; n++) expect(toHex(merkleRoot(leaves.slice(0, n)))).toBe(v.roots[n - 1]!);
  });

  test('a native hash gives the same roots', () => {
    const native = nativeSha256();
    for (let n = 0; n <= 8; n++) expect(toHex(merkleRoot(leaves.slice(0, n), native))).toBe(toHex(merkleRoot(leaves.slice(0, n))));
  });

  for (const c of v.inclusion) {
    test(`inclusion index ${c.index} size ${c.size}: built, verified, and every corruption refused`, () => {
      const proof = c.proof.map((h) => fromHex(h));
      const tree = leaves.slice(0, c.size);
      expect(hexes(inclusionProof(tree, c.index))).toEqual(c.proof);
      const leaf = leafHash(leaves[c.index]!);
      const root = roots[c.size - 1]!;
      verifyInclusion(leaf, c.index, c.size, proof, root);

      const some = fromHex('abacaba000000000000000000000000000000000000000000060061e00123456');
      const probes: [string, () => void][] = [
        ['index - 1', () => verifyInclusion(leaf, c.index - 1, c.size, proof, root)],
        ['index + 1', () => verifyInclusion(leaf, c.index + 1, c.size, proof, root)],
        ['index ^ 2', () => verifyInclusion(leaf, c.index ^ 2, c.size, proof, root)],
        ['size * 2', () => verifyInclusion(leaf, c.index, c.size * 2, proof, root)],
        ['size / 2', () => verifyInclusion(leaf, c.index, Math.floor(c.size / 2), proof, root)],
        ['wrong leaf', () => verifyInclusion(some, c.index, c.size, proof, root)],
        ['empty root', () => verifyInclusion(leaf, c.index, c.size, proof, fromHex(v.emptyRoot))],
        ['random root', () => verifyInclusion(leaf, c.index, c.size, proof, some)],
        ['trailing garbage', () => verifyInclusion(leaf, c.index, c.size, [...proof, new Uint8Array(0)], root)],
        ['trailing root', () => verifyInclusion(leaf, c.index, c.size, [...proof, root], root)],
        ['preceding garbage', () => verifyInclusion(leaf, c.index, c.size, [new Uint8Array(0), ...proof], root)],
        ['preceding root', () => verifyInclusion(leaf, c.index, c.size, [root, ...proof], root)],
      ];
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((p) => p.slice());
        bad[i]![0]! ^= 8;
        probes.push([`proof[${i}] bit 3`, () => verifyInclusion(leaf, c.index, c.size, bad, root)]);
      }
      if (proof.length > 0) probes.push(['removed component', () => verifyInclusion(leaf, c.index, c.size, proof.slice(0, -1), root)]);
      if (proof.length > 1) probes.push(['inserted component', () => verifyInclusion(leaf, c.index, c.size, [proof[0]!, some, ...proof.slice(1)], root)]);
      for (const [name, probe] of probes) expect({ name, refused: proofError(probe) !== undefined }).toEqual({ name, refused: true });
    });
  }

  for (const c of v.consistency) {
    test(`consistency ${c.size1} → ${c.size2}: built, verified, and every corruption refused`, () => {
      const proof = c.proof.map((h) => fromHex(h));
      expect(hexes(consistencyProof(leaves.slice(0, c.size2), c.size1))).toEqual(c.proof);
      const r1 = roots[c.size1 - 1]!;
      const r2 = roots[c.size2 - 1]!;
      verifyConsistency(c.size1, c.size2, r1, r2, proof);
      if (proof.length === 0) return;

      const wrong = fromHex('00'.repeat(31) + '01');
      const probes: [string, () => void][] = [
        ['size1 - 1', () => verifyConsistency(c.size1 - 1, c.size2, r1, r2, proof)],
        ['size1 + 1', () => verifyConsistency(c.size1 + 1, c.size2, r1, r2, proof)],
        ['size1 ^ 2', () => verifyConsistency(c.size1 ^ 2, c.size2, r1, r2, proof)],
        ['size2 * 2', () => verifyConsistency(c.size1, c.size2 * 2, r1, r2, proof)],
        ['size2 / 2', () => verifyConsistency(c.size1, Math.floor(c.size2 / 2), r1, r2, proof)],
        ['wrong root1', () => verifyConsistency(c.size1, c.size2, wrong, r2, proof)],
        ['wrong root2', () => verifyConsistency(c.size1, c.size2, r1, wrong, proof)],
        ['swapped roots', () => verifyConsistency(c.size1, c.size2, r2, r1, proof)],
        ['empty proof', () => verifyConsistency(c.size1, c.size2, r1, r2, [])],
        ['trailing garbage', () => verifyConsistency(c.size1, c.size2, r1, r2, [...proof, new Uint8Array(0)])],
        ['trailing root1', () => verifyConsistency(c.size1, c.size2, r1, r2, [...proof, r1])],
        ['trailing root2', () => verifyConsistency(c.size1, c.size2, r1, r2, [...proof, r2])],
        ['preceding garbage', () => verifyConsistency(c.size1, c.size2, r1, r2, [new Uint8Array(0), ...proof])],
        ['preceding root1', () => verifyConsistency(c.size1, c.size2, r1, r2, [r1, ...proof])],
        ['preceding root2', () => verifyConsistency(c.size1, c.size2, r1, r2, [r2, ...proof])],
        ['preceding proof[0]', () => verifyConsistency(c.size1, c.size2, r1, r2, [proof[0]!, ...proof])],
        ['truncated proof', () => verifyConsistency(c.size1, c.size2, r1, r2, proof.slice(0, -1))],
      ];
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((p) => p.slice());
        bad[i]![0]! ^= 16;
        probes.push([`proof[${i}] bit 4`, () => verifyConsistency(c.size1, c.size2, r1, r2, bad)]);
      }
      for (const [name, probe] of probes) expect({ name, refused: proofError(probe) !== undefined }).toEqual({ name, refused: true });
    });
  }

  test('consistency edge sizes (transparency-dev table)', () => {
    const a = fromHex('11'.repeat(32));
    const b = fromHex('22'.repeat(32));
    const empty = fromHex(v.emptyRoot);
    expect(isValidConsistency(0, 0, a, b, [])).toBe(false);
    expect(isValidConsistency(1, 1, a, b, [])).toBe(false);
    expect(isValidConsistency(0, 0, a, a, [])).toBe(true);
    expect(isValidConsistency(0, 1, a, b, [])).toBe(true);
    expect(isValidConsistency(1, 1, b, b, [])).toBe(true);
    expect(isValidConsistency(1, 0, a, b, [])).toBe(false);
    expect(isValidConsistency(2, 1, a, b, [])).toBe(false);
    expect(isValidConsistency(1, 2, a, b, [])).toBe(false);
    expect(isValidConsistency(0, 0, empty, empty, [empty])).toBe(false);
    expect(isValidConsistency(0, 1, empty, empty, [empty])).toBe(false);
    expect(isValidConsistency(1, 1, empty, empty, [empty])).toBe(false);
  });

  test('errors carry the evidence: which root, expected and got', () => {
    const c = v.consistency[2]!;
    const proof = c.proof.map((h) => fromHex(h));
    const wrongNew = fromHex('33'.repeat(32));
    const e = proofError(() => verifyConsistency(c.size1, c.size2, roots[c.size1 - 1]!, wrongNew, proof))!;
    expect(e.details).toMatchObject({ which: 'new', expected: '33'.repeat(32), got: v.roots[c.size2 - 1] });
    const i = v.inclusion[2]!;
    const e2 = proofError(() => verifyInclusion(leafHash(leaves[i.index]!), i.index, i.size, i.proof.map((h) => fromHex(h)), wrongNew))!;
    expect(e2.details).toMatchObject({ expected: '33'.repeat(32), got: v.roots[i.size - 1] });
  });

  test('inclusion in a one-leaf tree: root equals the leaf hash, proof is empty', () => {
    const h = leafHash(new TextEncoder().encode('data'));
    expect(isValidInclusion(h, 0, 1, [], h)).toBe(true);
    expect(isValidInclusion(h, 0, 1, [], new Uint8Array(0))).toBe(false);
    expect(isValidInclusion(new Uint8Array(0), 0, 1, [], h)).toBe(false);
    for (const [index, size] of [[0, 0], [1, 0], [2, 1]] as const) expect(isValidInclusion(h, index, size, [], h)).toBe(false);
  });
});

describe('proof builders from subtree hashes', () => {
  test('do not need the leaves: only MTH of ranges, each within bounds', () => {
    const data = Array.from({ length: 21 }, (_, i) => new Uint8Array([i, i * 7]));
    const hashes = data.map((d) => leafHash(d));
    const inner = subtreeHashOf(hashes);
    const asked: [number, number][] = [];
    const subtree = (s: number, e: number) => {
      asked.push([s, e]);
      return inner(s, e);
    };
    for (let i = 0; i < 21; i++) expect(hexes(inclusionProofFrom(subtree, 21, i))).toEqual(hexes(inclusionProof(data, i)));
    for (let m = 0; m <= 21; m++) expect(hexes(consistencyProofFrom(subtree, 21, m))).toEqual(hexes(consistencyProof(data, m)));
    expect(asked.every(([s, e]) => 0 <= s && s < e && e <= 21)).toBe(true);
  });

  test('refuse out-of-range requests', () => {
    const sub = subtreeHashOf([leafHash(new Uint8Array([1]))]);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as DstpError).code;
      }
    };
    expect(code(() => inclusionProofFrom(sub, 1, 1))).toBe('invalid_range');
    expect(code(() => consistencyProofFrom(sub, 1, 2))).toBe('invalid_range');
    expect(code(() => sub(0, 2))).toBe('invalid_range');
  });
});

describe('properties (fast-check)', () => {
  // Distinct leaves: with duplicates another index can legitimately share a proof.
  const tree = fc.uniqueArray(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 300, selector: toHex });

  test('roots equal the recursive RFC 6962 definition', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 70 }), (data) => {
        expect(toHex(merkleRoot(data))).toBe(referenceMth(data));
        expect(toHex(rootFromLeafHashes(data.map((d) => leafHash(d))))).toBe(referenceMth(data));
      }),
      { numRuns: 200 },
    );
  });

  test('every inclusion proof verifies; any bit flip, other index or other size fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(255), (data, i, j, bit) => {
        const n = data.length;
        const index = i % n;
        const root = merkleRoot(data);
        const leaf = leafHash(data[index]!);
        const proof = inclusionProof(data, index);
        expect(isValidInclusion(leaf, index, n, proof, root)).toBe(true);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          bad[j % proof.length]![bit >> 3]! ^= 1 << (bit & 7);
          expect(isValidInclusion(leaf, index, n, bad, root)).toBe(false);
        }
        const tamperedLeaf = leaf.slice();
        tamperedLeaf[bit >> 3]! ^= 1 << (bit & 7);
        expect(isValidInclusion(tamperedLeaf, index, n, proof, root)).toBe(false);
        if (n > 1) expect(isValidInclusion(leaf, (index + 1 + (j % (n - 1))) % n, n, proof, root)).toBe(false);
        expect(isValidInclusion(leaf, index, n * 2, proof, root)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  test('every consistency proof verifies; any bit flip or wrong old size fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(255), (data, mi, j, bit) => {
        const n = data.length;
        const m = 1 + (mi % n);
        const oldRoot = merkleRoot(data.slice(0, m));
        const root = merkleRoot(data);
        const proof = consistencyProof(data, m);
        expect(isValidConsistency(m, n, oldRoot, root, proof)).toBe(true);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          bad[j % proof.length]![bit >> 3]! ^= 1 << (bit & 7);
          expect(isValidConsistency(m, n, oldRoot, root, bad)).toBe(false);
          expect(isValidConsistency(m, n, oldRoot, root, proof.slice(1))).toBe(false);
        }
        if (m < n) {
          // A different old tree (one leaf changed) is not a prefix of the new one.
          const changed = data.slice(0, m);
          changed[j % m] = new Uint8Array([...changed[j % m]!, 1]);
          expect(isValidConsistency(m, n, merkleRoot(changed), root, proof)).toBe(false);
          if (m > 1) expect(isValidConsistency(m - 1, n, oldRoot, root, proof)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
