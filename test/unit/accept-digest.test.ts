import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { digest } from '../../src/core/digest.ts';
import { sha256 } from '../../src/core/hash.ts';
import { acceptDigest, type AcceptObject } from '../../src/services/acceptance.ts';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

describe('acceptDigest (the 202 hot path) equals digest("accept", …) over JCS', () => {
  test('for any network, ids, seq and time', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 16 })),
        hex64,
        hex64,
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (network, tx, subtree, seq, time) => {
          const a: AcceptObject = { v: 1, network, tx, subtree, seq, time };
          expect(acceptDigest(a, sha256)).toEqual(digest('accept', a, sha256));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('values outside the plain shape fall back to the general digest (same answer, same refusals)', () => {
    const a = { v: 1, network: 'n\u2028"x', tx: 'AB'.repeat(32), subtree: 'ab'.repeat(32), seq: 1.5, time: 7 } as AcceptObject;
    expect(acceptDigest(a, sha256)).toEqual(digest('accept', a, sha256));
    const lone = { v: 1, network: 'n\ud800', tx: 'ab'.repeat(32), subtree: 'ab'.repeat(32), seq: 1, time: 7 } as AcceptObject;
    expect(() => digest('accept', lone, sha256)).toThrow();
    expect(() => acceptDigest(lone, sha256)).toThrow();
  });
});
