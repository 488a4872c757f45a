import { describe, expect, test } from 'bun:test';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { DstpError } from '../../src/core/errors.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import type { Proof } from '../../src/core/smt/types.ts';
import { isValidProof, verifyProof, type ProofExpectation } from '../../src/core/smt/verify.ts';
import vectors from '../vectors/smt.json' with { type: 'json' };

/**
 * Negative vectors: every accepted proof of smt.json (an independent implementation's output) is
 * mutated in the ways an attacker or a bug would, and each mutation must fail the named check.
 */
interface VectorCase {
  name: string;
  ops: { op: 'set' | 'delete'; key: string; value?: JsonValue }[];
  root: string;
  proofs: { key: string; present: boolean | null; leaf: Proof['leaf']; siblings: string[] }[];
}
const cases = (vectors as { cases: VectorCase[] }).cases;

interface Known {
  name: string;
  proof: Proof;
  expected: ProofExpectation;
}

const known: Known[] = cases.flatMap((c) => {
  const state = new Map<string, JsonValue>();
  for (const op of c.ops) op.op === 'delete' ? state.delete(op.key) : state.set(op.key, op.value!);
  return c.proofs.map((p) => ({
    name: `${c.name}/${p.key}`,
    proof: { key: p.key, root: c.root, leaf: p.leaf, siblings: p.siblings },
    expected: p.present === true ? { key: p.key, value: state.get(p.key)!, root: c.root } : { key: p.key, root: c.root },
  }));
});

function flipHex(h: string, bit: number): string {
  const b = Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
  b[bit >> 3]! ^= 0x80 >> (bit & 7);
  return toHex(b);
}

function rejection(proof: Proof, expected: ProofExpectation): DstpError {
  try {
    verifyProof(proof, expected);
  } catch (e) {
    expect(e).toBeInstanceOf(DstpError);
    expect((e as DstpError).code).toBe('invalid_proof');
    expect(isValidProof(proof, expected)).toBe(false);
    return e as DstpError;
  }
  throw new Error(`accepted a bad proof: ${JSON.stringify(proof)}`);
}

const ROOT_FOLD = /root mismatch: the siblings do not fold/;

describe('positive vectors verify', () => {
  for (const k of known) test(k.name, () => verifyProof(k.proof, k.expected));
});

describe('bit flips are rejected by the check they break', () => {
  for (const k of known) {
    test(`${k.name}: siblings`, () => {
      k.proof.siblings.forEach((s, j) => {
        for (const bit of [0, 7, 100, 255]) {
          const siblings = k.proof.siblings.map((x, i) => (i === j ? flipHex(s, bit) : x));
          expect(rejection({ ...k.proof, siblings }, k.expected).message).toMatch(ROOT_FOLD);
        }
      });
    });

    test(`${k.name}: root, in the proof and in the expectation`, () => {
      const e = rejection({ ...k.proof, root: flipHex(k.proof.root, 3) }, { ...k.expected, root: undefined });
      expect(e.message).toMatch(ROOT_FOLD);
      expect(e.details).toEqual({ expected: flipHex(k.proof.root, 3), got: k.proof.root });
      const e2 = rejection(k.proof, { ...k.expected, root: flipHex(k.proof.root, 200) });
      expect(e2.message).toMatch(/root mismatch: the proof is against another root/);
      expect(e2.details).toEqual({ expected: flipHex(k.proof.root, 200), got: k.proof.root });
    });

    if (k.proof.leaf !== null) {
      const leaf = k.proof.leaf;
      const inclusion = k.expected.value !== undefined;
      test(`${k.name}: leaf value hash and path`, () => {
        const badValue = { ...k.proof, leaf: { ...leaf, valueHash: flipHex(leaf.valueHash, 9) } };
        expect(rejection(badValue, k.expected).message).toMatch(inclusion ? /value hash mismatch/ : ROOT_FOLD);
        const badPath = { ...k.proof, leaf: { ...leaf, path: flipHex(leaf.path, 255) } };
        const expectedMessage = inclusion ? /wrong key path/ : /root mismatch|does not share the prefix|present/;
        expect(rejection(badPath, k.expected).message).toMatch(expectedMessage);
      });
    }
  }
});

describe('truncated and extended sibling lists are rejected', () => {
  for (const k of known) {
    test(k.name, () => {
      const n = k.proof.siblings.length;
      const variants: string[][] = [
        [...k.proof.siblings, '00'.repeat(32)],
        ['00'.repeat(32), ...k.proof.siblings],
      ];
      if (n > 0) variants.push(k.proof.siblings.slice(1), k.proof.siblings.slice(0, -1), [...k.proof.siblings, k.proof.siblings[n - 1]!]);
      for (const siblings of variants) {
        expect(rejection({ ...k.proof, siblings }, k.expected).message).toMatch(/root mismatch|does not share the prefix/);
      }
    });
  }

  test('more than 256 siblings is refused before any hashing', () => {
    const k = known.find((x) => x.proof.siblings.length > 0)!;
    const siblings = Array.from({ length: 257 }, () => k.proof.siblings[0]!);
    const e = rejection({ ...k.proof, siblings }, k.expected);
    expect(e.message).toBe('too many siblings: 257 > 256');
  });
});

describe('claims the proof does not support', () => {
  const two = known.filter((k) => k.name.startsWith('two/'));
  const a = two.find((k) => k.name === 'two/a')!;
  const c = two.find((k) => k.name === 'two/c')!;

  test('a proof for another key', () => {
    expect(rejection(a.proof, { ...a.expected, key: 'b' }).message).toMatch(/another key/);
  });

  test('a present key cannot be proven absent with its own proof', () => {
    expect(rejection(a.proof, { key: 'a', root: a.proof.root }).message).toMatch(/shows the key present/);
  });

  test('an exclusion proof relabelled for a present key is rejected', () => {
    // c's exclusion proof ends at b's leaf; claim it shows "b" absent.
    expect(rejection({ ...c.proof, key: 'b' }, { key: 'b', root: c.proof.root }).message).toMatch(/shows the key present/);
    // and claim it shows "a" absent: a's path leaves b's subtree at the first bit.
    expect(rejection({ ...c.proof, key: 'a' }, { key: 'a', root: c.proof.root }).message).toMatch(/does not share the prefix/);
  });

  test('an exclusion leaf must share the key path up to its depth', () => {
    // a's leaf sits at depth 1 on the left; find a key whose path starts on the right.
    const bit0 = (k: string) => nobleSha256(utf8(k))[0]! >> 7;
    const aBit = bit0('a');
    const other = Array.from({ length: 64 }, (_, i) => `x${i}`).find((k) => bit0(k) !== aBit)!;
    const e = rejection({ ...a.proof, key: other }, { key: other, root: a.proof.root });
    expect(e.message).toMatch(/does not share the prefix/);
    expect(e.details).toEqual({ depth: 1, divergesAtBit: 0 });
  });

  test('expecting a value where the proof shows an empty slot', () => {
    const empty = known.find((k) => k.proof.leaf === null && k.proof.siblings.length > 0)!;
    expect(rejection(empty.proof, { key: empty.proof.key, value: 1 }).message).toMatch(/empty slot/);
  });

  test('a key with a lone surrogate is refused (its UTF-8 path would be that of U+FFFD)', () => {
    expect(rejection({ ...c.proof, key: 'c\uD800' }, { key: 'c\uD800', root: c.proof.root }).message).toMatch(/surrogate/);
  });

  test('expected value and expected valueHash must agree', () => {
    const vh = toHex(nobleSha256(utf8('2')));
    expect(rejection(a.proof, { key: 'a', value: 1, valueHash: vh }).message).toMatch(/disagree/);
    verifyProof(a.proof, { key: 'a', valueHash: toHex(nobleSha256(utf8('1'))) });
  });
});

describe('malformed proofs fail on shape, naming the field', () => {
  const k = known.find((x) => x.proof.leaf !== null && x.proof.siblings.length > 0)!;
  const cases: [string, unknown, RegExp][] = [
    ['uppercase sibling', { ...k.proof, siblings: [k.proof.siblings[0]!.toUpperCase()] }, /malformed hex: siblings\[0\]/],
    ['short root', { ...k.proof, root: k.proof.root.slice(2) }, /malformed hex: root/],
    ['0x prefix', { ...k.proof, root: `0x${k.proof.root.slice(2)}` }, /malformed hex: root/],
    ['leaf without valueHash', { ...k.proof, leaf: { path: k.proof.leaf!.path } }, /malformed hex: leaf.valueHash/],
    ['leaf missing', { key: k.proof.key, root: k.proof.root, siblings: [] }, /leaf must be an object or null/],
    ['siblings not an array', { ...k.proof, siblings: 'ab' }, /siblings must be an array/],
    ['key not a string', { ...k.proof, key: 7 }, /key must be a string/],
    ['not an object', null, /not an object/],
  ];
  for (const [name, proof, message] of cases) {
    test(name, () => expect(rejection(proof as Proof, k.expected).message).toMatch(message));
  }
});
