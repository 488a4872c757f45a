import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { DstpError } from '../../src/core/errors.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import {
  createKeyParser,
  isPublicKeyString,
  nobleVerifier,
  parsePublicKey,
  publicKeyFromSecret,
  signDigest,
  verifyDigest,
  verifyEd25519Strict,
  type Scheme,
} from '../../src/core/keys.ts';
import rfc8032 from '../vectors/rfc8032.json';
import secpVectors from '../vectors/secp256k1-rfc6979.json';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return e.code;
    throw e;
  }
  return undefined;
}

const sha256 = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());

describe('ed25519 — RFC 8032 §7.1', () => {
  for (const v of rfc8032.vectors) {
    test(`${v.name}: public key derivation and strict verification`, () => {
      expect(publicKeyFromSecret('ed25519', fromHex(v.secret))).toBe(`ed25519:${v.public}`);
      const pub = fromHex(v.public);
      const msg = fromHex(v.message);
      const sig = fromHex(v.signature);
      expect(verifyEd25519Strict(pub, msg, sig)).toBe(true);
      const flipped = sig.slice();
      flipped[0]! ^= 0x01;
      expect(verifyEd25519Strict(pub, msg, flipped)).toBe(false);
    });
  }

  test('signDigest/verifyDigest round trip, deterministic', () => {
    const secret = fromHex(rfc8032.vectors[0]!.secret);
    const key = publicKeyFromSecret('ed25519', secret);
    const digest = sha256('hello');
    const sig = signDigest('ed25519', secret, digest);
    expect(sig.length).toBe(64);
    expect(toHex(signDigest('ed25519', secret, digest))).toBe(toHex(sig));
    expect(verifyDigest(key, digest, sig)).toBe(true);
    expect(verifyDigest(key, digest, toHex(sig))).toBe(true);
    expect(verifyDigest(key, sha256('hellO'), sig)).toBe(false);
  });
});

describe('bip340 — bitcoin/bips bip-0340/test-vectors.csv', async () => {
  const csv = await Bun.file(new URL('../vectors/bip340-test-vectors.csv', import.meta.url)).text();
  const rows = csv
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [index, secret, pub, aux, msg, sig, result, comment] = line.split(',');
      return { index, secret, pub: pub!.toLowerCase(), aux, msg: msg!.toLowerCase(), sig: sig!.toLowerCase(), valid: result === 'TRUE', comment };
    });
  expect(rows.length).toBe(15);

  for (const r of rows) {
    test(`vector ${r.index}${r.comment ? ` (${r.comment})` : ''}`, () => {
      if (r.secret) {
        const secret = fromHex(r.secret.toLowerCase());
        expect(publicKeyFromSecret('bip340', secret)).toBe(`bip340:${r.pub}`);
        expect(toHex(signDigest('bip340', secret, fromHex(r.msg), fromHex(r.aux!.toLowerCase())))).toBe(r.sig);
      }
      const key = `bip340:${r.pub}`;
      if (r.valid) {
        expect(verifyDigest(key, fromHex(r.msg), r.sig)).toBe(true);
      } else if (isPublicKeyString(key)) {
        expect(verifyDigest(key, fromHex(r.msg), r.sig)).toBe(false);
      } else {
        // Vectors 5 and 14: the key itself is refused before any signature check.
        expect(codeOf(() => verifyDigest(key, fromHex(r.msg), r.sig))).toBe('invalid_key');
      }
    });
  }

  test('auxRand defaults to 32 zero bytes', () => {
    const v0 = rows[0]!; // its aux_rand is all zeros
    const secret = fromHex(v0.secret!.toLowerCase());
    expect(toHex(signDigest('bip340', secret, fromHex(v0.msg)))).toBe(v0.sig);
  });
});

describe('secp256k1 — deterministic RFC 6979 ECDSA, low-S only', () => {
  for (const v of secpVectors.vectors) {
    test(`${v.secret.slice(0, 8)}… "${v.message.slice(0, 24)}"`, () => {
      const secret = fromHex(v.secret);
      const key = publicKeyFromSecret('secp256k1', secret);
      const digest = sha256(v.message);
      expect(toHex(signDigest('secp256k1', secret, digest))).toBe(v.lowS);
      expect(verifyDigest(key, digest, v.lowS)).toBe(true);
      if (v.highS) {
        // The malleated twin is a valid ECDSA signature (noble accepts it with lowS off) ...
        const pub = parsePublicKey(key).bytes;
        expect(secp256k1.verify(fromHex(v.highS), digest, pub, { prehash: false, lowS: false })).toBe(true);
        // ... and SPEC §2 rejects it.
        expect(verifyDigest(key, digest, v.highS)).toBe(false);
      }
    });
  }

  test('private key 1 gives the generator as a compressed key', () => {
    expect(publicKeyFromSecret('secp256k1', fromHex(secpVectors.vectors[0]!.secret))).toBe(
      'secp256k1:0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
    );
  });

  test('r or s of zero or at least n is refused, not thrown', () => {
    const v = secpVectors.vectors[0]!;
    const key = publicKeyFromSecret('secp256k1', fromHex(v.secret));
    const digest = sha256(v.message);
    const n = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
    expect(verifyDigest(key, digest, v.lowS.slice(0, 64) + '0'.repeat(64))).toBe(false);
    expect(verifyDigest(key, digest, '0'.repeat(64) + v.lowS.slice(64))).toBe(false);
    expect(verifyDigest(key, digest, v.lowS.slice(0, 64) + n)).toBe(false);
    expect(verifyDigest(key, digest, n + v.lowS.slice(64))).toBe(false);
  });
});

describe('parsePublicKey is strict', () => {
  const ed = 'ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const k1 = 'secp256k1:0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
  const bip = 'bip340:f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9';

  test('accepts canonical keys of each scheme and keeps the string as id', () => {
    for (const s of [ed, k1, bip]) {
      const k = parsePublicKey(s);
      expect(k.id).toBe(s);
      expect(toHex(k.bytes)).toBe(s.split(':')[1]!);
      expect(isPublicKeyString(s)).toBe(true);
    }
    expect(parsePublicKey(k1).bytes.length).toBe(33);
  });

  const cases: [string, string, string][] = [
    ['unknown scheme', 'rsa:00', 'unsupported_scheme'],
    ['scheme in capitals', ed.replace('ed25519', 'ED25519'), 'unsupported_scheme'],
    ['no scheme', ed.split(':')[1]!, 'invalid_key'],
    ['empty scheme', ':' + ed.split(':')[1]!, 'invalid_key'],
    ['uppercase hex', ed.toUpperCase().replace('ED25519', 'ed25519'), 'invalid_key'],
    ['0x prefix', 'ed25519:0x' + ed.slice(10), 'invalid_key'],
    ['too short', ed.slice(0, -2), 'invalid_key'],
    ['too long', ed + '00', 'invalid_key'],
    ['odd length', ed + '0', 'invalid_key'],
    ['whitespace', ed + ' ', 'invalid_key'],
    // (y^2 - 1)/(d y^2 + 1) is not a square for y = 2: no edwards25519 point has it.
    ['ed25519 off curve', 'ed25519:02' + '00'.repeat(31), 'invalid_key'],
    ['ed25519 y = p (non-canonical)', 'ed25519:ed' + 'ff'.repeat(30) + '7f', 'invalid_key'],
    ['ed25519 x = 0 with sign bit', 'ed25519:01' + '00'.repeat(30) + '80', 'invalid_key'],
    ['ed25519 identity (small order)', 'ed25519:01' + '00'.repeat(31), 'invalid_key'],
    ['ed25519 order-8 point', 'ed25519:c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'invalid_key'],
    ['secp256k1 uncompressed prefix', 'secp256k1:04' + k1.slice(12), 'invalid_key'],
    ['secp256k1 bad prefix', 'secp256k1:05' + k1.slice(12), 'invalid_key'],
    // The x of BIP-340 vector 5 ("public key not on the curve") has no point for either parity.
    ['secp256k1 off curve', 'secp256k1:02eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34', 'invalid_key'],
    ['secp256k1 x >= p', 'secp256k1:02' + 'ff'.repeat(32), 'invalid_key'],
    ['secp256k1 x-only length', 'secp256k1:' + k1.slice(12), 'invalid_key'],
    ['bip340 off curve', 'bip340:eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34', 'invalid_key'],
    ['bip340 x >= p', 'bip340:fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc30', 'invalid_key'],
    ['bip340 compressed length', 'bip340:' + k1.slice(10), 'invalid_key'],
  ];
  for (const [name, s, code] of cases) {
    test(`${name} → ${code}`, () => {
      expect(codeOf(() => parsePublicKey(s))).toBe(code);
      expect(isPublicKeyString(s)).toBe(false);
    });
  }

  test('createKeyParser memoizes successes, keeps refusing failures, stays bounded', () => {
    const parse = createKeyParser(2);
    expect(parse(ed)).toBe(parse(ed));
    expect(parse(ed).id).toBe(ed);
    expect(codeOf(() => parse('rsa:00'))).toBe('unsupported_scheme');
    expect(codeOf(() => parse('rsa:00'))).toBe('unsupported_scheme');
    const first = parse(ed);
    parse(k1);
    parse(bip); // evicts the oldest entry (ed)
    expect(parse(ed)).not.toBe(first);
    expect(parse(ed)).toEqual(first);
  });

  test('non-strings are not keys', () => {
    for (const v of [undefined, null, 42, {}, ['ed25519', 'x']]) expect(isPublicKeyString(v)).toBe(false);
    expect(codeOf(() => parsePublicKey(42 as unknown as string))).toBe('invalid_key');
  });
});

describe('signatures and digests are checked before verification', () => {
  const secret = fromHex(rfc8032.vectors[1]!.secret);
  const digest = sha256('x');

  for (const scheme of ['ed25519', 'secp256k1', 'bip340'] as Scheme[]) {
    test(`${scheme}: malformed signatures throw, wrong ones return false`, () => {
      const key = publicKeyFromSecret(scheme, secret);
      const sig = signDigest(scheme, secret, digest, new Uint8Array(32).fill(9));
      expect(verifyDigest(key, digest, sig)).toBe(true);
      expect(codeOf(() => verifyDigest(key, digest, sig.subarray(0, 63)))).toBe('invalid_signature');
      expect(codeOf(() => verifyDigest(key, digest, new Uint8Array(65)))).toBe('invalid_signature');
      expect(codeOf(() => verifyDigest(key, digest, toHex(sig).toUpperCase()))).toBe('invalid_signature');
      expect(codeOf(() => verifyDigest(key, digest, 'zz' + toHex(sig).slice(2)))).toBe('invalid_signature');
      expect(codeOf(() => verifyDigest(key, digest, toHex(sig) + '00'))).toBe('invalid_signature');
      expect(codeOf(() => verifyDigest(key, digest.subarray(0, 31), sig))).toBe('invalid_length');
      const wrong = sig.slice();
      wrong[10]! ^= 0x40;
      expect(verifyDigest(key, digest, wrong)).toBe(false);
      expect(verifyDigest(key, sha256('y'), sig)).toBe(false);
      const other = publicKeyFromSecret(scheme, fromHex(rfc8032.vectors[2]!.secret));
      expect(verifyDigest(other, digest, sig)).toBe(false);
    });
  }

  test('nobleVerifier answers like verifyDigest', async () => {
    const key = parsePublicKey(publicKeyFromSecret('ed25519', secret));
    const sig = signDigest('ed25519', secret, digest);
    expect(await nobleVerifier.verify(key, digest, sig)).toBe(true);
    expect(await nobleVerifier.verify(key, sha256('y'), sig)).toBe(false);
  });

  test('secrets must be 32 valid bytes', () => {
    expect(codeOf(() => publicKeyFromSecret('ed25519', new Uint8Array(31)))).toBe('invalid_key');
    expect(codeOf(() => publicKeyFromSecret('secp256k1', new Uint8Array(32)))).toBe('invalid_key');
    expect(codeOf(() => signDigest('bip340', new Uint8Array(32), digest))).toBe('invalid_key');
    expect(codeOf(() => publicKeyFromSecret('p256' as Scheme, secret))).toBe('unsupported_scheme');
  });
});
