import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { DstpError } from '../../src/core/errors.ts';
import { concatBytes, fromHex, utf8 } from '../../src/core/hex.ts';
import { nobleVerifier, parsePublicKey, publicKeyFromSecret, signDigest, verifyEd25519Strict, type Scheme } from '../../src/core/keys.ts';
import {
  failsStrictPrechecks,
  isCanonicalPointEncoding,
  isCanonicalScalar,
  strictNativeEd25519,
  type Ed25519Backend,
} from '../../src/platform/ed25519-native.ts';
import { createVerifier, pickBackend } from '../../src/platform/verifier.ts';
import { craftTorsion, edge, edgeCases, L, wycheproofCases, type Case } from '../helpers/ed25519-cases.ts';

/**
 * The native ed25519 path must answer exactly like noble strict (zip215: false) — on standard
 * vectors, on the speccheck / ZIP-215 edge cases, and on signatures crafted with torsion.
 */

async function backendsHere(): Promise<Ed25519Backend[]> {
  const found: Ed25519Backend[] = [];
  for (const choice of ['node:crypto', 'webcrypto'] as const) {
    const b = await pickBackend(choice);
    if (b) found.push(b);
  }
  return found;
}

const backends = await backendsHere();

test('this runtime offers at least one native ed25519 backend', () => {
  expect(backends.length).toBeGreaterThan(0);
});

describe('wycheproof ed25519: noble strict gives the published verdict', () => {
  for (const c of wycheproofCases()) {
    test(c.name, () => {
      expect(verifyEd25519Strict(c.pub, c.msg, c.sig)).toBe(c.valid);
    });
  }
});

for (const backend of backends) {
  describe(`native ${backend.name} agrees with noble strict`, () => {
    const strict = strictNativeEd25519(backend);

    test('wycheproof subset', async () => {
      for (const c of wycheproofCases()) expect({ c: c.name, ok: await strict(c.pub, c.msg, c.sig) }).toEqual({ c: c.name, ok: c.valid });
    });

    test('speccheck, ZIP-215 grid, torsion-crafted and S + L cases', async () => {
      const cases = edgeCases();
      expect(cases.length).toBe(10 + 14 * 14 + 21 + 2);
      let nobleAccepts = 0;
      for (const c of cases) {
        const want = verifyEd25519Strict(c.pub, c.msg, c.sig);
        if (want) nobleAccepts++;
        expect({ c: c.name, ok: await strict(c.pub, c.msg, c.sig) }).toEqual({ c: c.name, ok: want });
      }
      // The set really exercises both answers, including cofactored-only acceptances.
      expect(nobleAccepts).toBeGreaterThan(20);
    });

    test('the raw backend is cofactorless: it rejects R + torsion that noble accepts (why the fallback exists)', async () => {
      const c = craftTorsion(7, utf8('m'), edge.smallOrder.canonical[6]!, null);
      expect(verifyEd25519Strict(c.pub, c.msg, c.sig)).toBe(true);
      expect(await backend.verify(c.pub, c.msg, c.sig)).toBe(false);
      expect(await strict(c.pub, c.msg, c.sig)).toBe(true);
    });

    test('random signatures and single-bit tampering (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.constantFrom('none', 'sig', 'msg', 'pub'),
          fc.nat(255),
          async (secret, msg, where, bit) => {
            const pub = ed25519.getPublicKey(secret);
            const sig = ed25519.sign(msg, secret);
            const target = where === 'sig' ? sig : where === 'msg' ? msg : where === 'pub' ? pub : null;
            if (target) target[(bit >> 3) % target.length]! ^= 1 << (bit & 7);
            expect(await strict(pub, msg, sig)).toBe(verifyEd25519Strict(pub, msg, sig));
          },
        ),
        { numRuns: 300 },
      );
    });
  });
}

describe('cheap pre-checks match RFC 8032 encodings', () => {
  test('S < L boundary', () => {
    const Lbytes = numberToBytesLE(L, 32);
    const sig = (s: bigint) => concatBytes(new Uint8Array(32), numberToBytesLE(s, 32));
    expect(isCanonicalScalar(sig(L - 1n))).toBe(true);
    expect(isCanonicalScalar(sig(0n))).toBe(true);
    expect(isCanonicalScalar(concatBytes(new Uint8Array(32), Lbytes))).toBe(false);
    expect(isCanonicalScalar(sig(L + 1n))).toBe(false);
    expect(isCanonicalScalar(sig(2n ** 256n - 1n))).toBe(false);
  });

  test('point encodings: canonical iff noble strict decoding would not refuse the spelling', () => {
    for (const h of edge.smallOrder.canonical) expect(isCanonicalPointEncoding(fromHex(h))).toBe(true);
    for (const h of edge.smallOrder.nonCanonical) expect(isCanonicalPointEncoding(fromHex(h))).toBe(false);
    // y = p - 1 without sign bit is canonical (the order-2 point); y = p + 18 is not.
    expect(isCanonicalPointEncoding(fromHex('ec' + 'ff'.repeat(30) + '7f'))).toBe(true);
    expect(isCanonicalPointEncoding(fromHex('ff'.repeat(31) + '7f'))).toBe(false);
  });

  test('small-order keys fail the pre-checks; an honest key passes', () => {
    const honest = craftTorsion(3, utf8('x'), null, null);
    expect(failsStrictPrechecks(honest.pub, honest.sig)).toBe(false);
    for (const h of edge.smallOrder.canonical) expect(failsStrictPrechecks(fromHex(h), honest.sig)).toBe(true);
  });
});

describe('createVerifier', () => {
  const secret = new Uint8Array(32).fill(5);
  const digest = sha512(utf8('d')).subarray(0, 32);

  test('picks a native ed25519 backend here and answers like noble for every scheme', async () => {
    const v = await createVerifier();
    expect(v.name).toContain('ed25519:');
    for (const scheme of ['ed25519', 'secp256k1', 'bip340'] as Scheme[]) {
      const key = parsePublicKey(publicKeyFromSecret(scheme, secret));
      const sig = signDigest(scheme, secret, digest);
      expect(await v.verify(key, digest, sig)).toBe(true);
      const bad = sig.slice();
      bad[5]! ^= 2;
      expect(await v.verify(key, digest, bad)).toBe(await nobleVerifier.verify(key, digest, bad));
      expect(await v.verify(key, digest, bad)).toBe(false);
    }
  });

  test('malformed inputs throw the same codes as verifyDigest', async () => {
    const v = await createVerifier();
    const key = parsePublicKey(publicKeyFromSecret('ed25519', secret));
    const sig = signDigest('ed25519', secret, digest);
    const code = (p: Promise<unknown>) => p.then(() => undefined, (e) => (e instanceof DstpError ? e.code : 'other'));
    expect(await code(v.verify(key, digest, sig.subarray(0, 63)))).toBe('invalid_signature');
    expect(await code(v.verify(key, digest.subarray(1), sig))).toBe('invalid_length');
  });

  test("'noble' forces the pure-JS verifier", async () => {
    expect((await createVerifier({ ed25519: 'noble' })).name).toBe('noble');
  });
});
