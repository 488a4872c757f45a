import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { digest, type DigestTag } from '../../src/core/digest.ts';
import { EMPTY_HASH, sha256 } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import { nativeSha256, selectSha256, treeHashOptions } from '../../src/platform/sha256.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { SparseMerkleTree } from '../../src/core/smt/tree.ts';

/** SPEC §1 by hand: the prefix and the canonical JSON are written out, hashed with node:crypto. */
function byHand(tag: string, canonicalJson: string): string {
  return createHash('sha256').update(`DSTP/${tag}/v1\n`, 'utf8').update(canonicalJson, 'utf8').digest('hex');
}

const tx = { v: 1, nonce: 7, amount: '12', to: 'ed25519:ab', memo: 'caf\u00e9', args: { z: null, a: [true, 1.5] } };
const txCanonical = '{"amount":"12","args":{"a":[true,1.5],"z":null},"memo":"caf\u00e9","nonce":7,"to":"ed25519:ab","v":1}';

describe('digest(tag, v) = H(utf8("DSTP/" + tag + "/v1\\n") || jcs(v))', () => {
  for (const tag of ['tx', 'subtree', 'round', 'checkpoint', 'evidence', 'accept'] as DigestTag[]) {
    test(tag, () => {
      expect(toHex(digest(tag, tx))).toBe(byHand(tag, txCanonical));
    });
  }

  test('tags separate domains', () => {
    expect(toHex(digest('tx', tx))).not.toBe(toHex(digest('round', tx)));
  });

  test('property order does not matter; values do', () => {
    const reordered = { args: { a: [true, 1.5], z: null }, to: 'ed25519:ab', v: 1, memo: 'caf\u00e9', nonce: 7, amount: '12' };
    expect(toHex(digest('tx', reordered))).toBe(toHex(digest('tx', tx)));
    expect(toHex(digest('tx', { ...tx, nonce: 8 }))).not.toBe(toHex(digest('tx', tx)));
  });

  test('an injected native hash gives the same digest', () => {
    expect(toHex(digest('checkpoint', tx, nativeSha256()))).toBe(toHex(digest('checkpoint', tx)));
  });
});

describe('platform sha256', () => {
  test('picks the runtime hash under Bun', () => {
    expect(selectSha256().name).toBe('bun');
  });

  test('agrees with node:crypto and noble on random inputs (property)', () => {
    const native = nativeSha256();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        const want = createHash('sha256').update(data).digest('hex');
        expect(toHex(native(data))).toBe(want);
        expect(toHex(sha256(data))).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  test('hashes strings as their UTF-8, as the tree needs for keys and canonical JSON (property)', () => {
    const text = selectSha256().hashTextInto;
    expect(text).toBeDefined();
    const out = new Uint8Array(32);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (s) => {
        text!(s, out);
        expect(toHex(out)).toBe(createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex'));
      }),
      { numRuns: 300 },
    );
  });

  test('a tree with every native form gives the roots and values of a tree with noble alone', async () => {
    const batch = [
      { key: 'a/1', value: { x: 'é€𝄞', n: 1 } },
      { key: 'ключ/🔑', value: [true, null, 2.5] },
      { key: 'a/2', value: { n: 1, x: 'é€𝄞' } }, // the same canonical text as a/1
      { key: 'a/3', value: null },
      ...Array.from({ length: 300 }, (_, i) => ({ key: `bulk/${i}`, value: i % 7 })), // large enough for word views
    ];
    const native = new SparseMerkleTree(new MemoryNodeStore(), treeHashOptions(selectSha256()));
    const noble = new SparseMerkleTree(new MemoryNodeStore());
    const [a, b] = [await native.apply(EMPTY_HASH, batch), await noble.apply(EMPTY_HASH, batch)];
    expect(toHex(a.root)).toBe(toHex(b.root));
    const show = (vs: { hash: Uint8Array; bytes: Uint8Array }[]) => vs.map((v) => [toHex(v.hash), toHex(v.bytes)]);
    expect(show(a.values)).toEqual(show(b.values));
    expect(a.values.length).toBe(2 + 7); // distinct canonical texts only
    for (const v of a.values) expect(toHex(v.hash)).toBe(toHex(sha256(v.bytes)));
  });

  test('returns plain 32-byte Uint8Arrays', () => {
    const out = nativeSha256()(new Uint8Array([1, 2, 3]));
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.length).toBe(32);
  });
});
