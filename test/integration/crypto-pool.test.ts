import { afterAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { DstpError } from '../../src/core/errors.ts';
import { utf8 } from '../../src/core/hex.ts';
import { parsePublicKey, publicKeyFromSecret, signDigest, type PublicKey, type Scheme } from '../../src/core/keys.ts';
import { sha256 } from '../../src/core/hash.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { cryptoThreads } from '../../src/node.ts';
import { startCryptoPool, type CryptoPool } from '../../src/platform/crypto-pool.ts';
import { createNodeSigner } from '../../src/platform/node-signer.ts';
import { createVerifier } from '../../src/platform/verifier.ts';
import { edgeCases, wycheproofCases } from '../helpers/ed25519-cases.ts';

/**
 * The crypto pool runs real worker threads. Its answers must be the in-thread verifier's and
 * signer's, byte for byte, however calls are packed, and a thread that fails must cost nothing
 * but speed.
 */
const secret = new Uint8Array(32).fill(9);
const verifier = await createVerifier();
const signer = await createNodeSigner(secret);
const pools: CryptoPool[] = [];
function pool(threads: number, opts: { secret?: Uint8Array; onThreadError?: (e: string) => void; maxBatch?: number } = {}): CryptoPool {
  const p = startCryptoPool({ threads, secret: opts.secret ?? secret, fallback: { verifier, signer }, ...opts });
  if (!p) throw new Error('this runtime has module workers: the pool must start');
  pools.push(p);
  return p;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

const rawKey = (bytes: Uint8Array): PublicKey => ({ scheme: 'ed25519', bytes, id: '' });

describe('crypto pool answers exactly like the in-thread verifier', () => {
  const p = pool(2);

  test('ed25519 edge cases: wycheproof, speccheck, ZIP-215 grid, torsion, S + L', async () => {
    // Verifiers sign and check 32-byte digests: the cases with other message lengths are left out.
    const cases = [...wycheproofCases(), ...edgeCases(sha256(utf8('Zcash')), sha256(utf8('torsion')))].filter((c) => c.msg.length === 32);
    expect(cases.length).toBeGreaterThan(100);
    // Every case at once: they travel packed, several per message.
    const pooled = await Promise.all(cases.map((c) => p.verifier.verify(rawKey(c.pub), c.msg, c.sig)));
    const local = await Promise.all(cases.map((c) => verifier.verify(rawKey(c.pub), c.msg, c.sig)));
    expect(pooled).toEqual(local);
    expect(pooled.filter(Boolean).length).toBeGreaterThan(0);
    expect(pooled.filter((x) => !x).length).toBeGreaterThan(0);
    expect(p.stats.batches).toBeLessThan(cases.length);
  });

  test('every scheme, valid and single-bit tampered (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Scheme>('ed25519', 'secp256k1', 'bip340'),
        fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((s) => s.some((b) => b !== 0)),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: -1, max: 64 * 8 - 1 }),
        async (scheme, sk, digest, flip) => {
          let key: PublicKey;
          let sig: Uint8Array;
          try {
            key = parsePublicKey(publicKeyFromSecret(scheme, sk));
            sig = signDigest(scheme, sk, digest);
          } catch {
            return; // not a valid secret for this curve
          }
          if (flip >= 0) sig[flip >> 3]! ^= 1 << (flip & 7);
          const [a, b] = await Promise.all([p.verifier.verify(key, digest, sig), verifier.verify(key, digest, sig)]);
          expect(a).toBe(b);
          if (flip < 0) expect(a).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('malformed arguments reject with the in-thread codes', async () => {
    const key = parsePublicKey(publicKeyFromSecret('ed25519', secret));
    const digest = sha256(utf8('d'));
    const sig = signDigest('ed25519', secret, digest);
    const code = (q: Promise<unknown>) => q.then(() => 'resolved', (e) => (e instanceof DstpError ? e.code : 'other'));
    expect(await code(p.verifier.verify(key, digest, sig.subarray(0, 63)))).toBe('invalid_signature');
    expect(await code(p.verifier.verify(key, digest.subarray(1), sig))).toBe('invalid_length');
    expect(await code(p.verifier.verify(key, digest, sig))).toBe('resolved');
  });

  test('1,000 concurrent checks travel in full batches and all come back right', async () => {
    const q = pool(1, { maxBatch: 64 });
    const key = parsePublicKey(signer.publicKey);
    const digests = Array.from({ length: 1000 }, (_, i) => sha256(utf8(`tx ${i}`)));
    const sigs = await Promise.all(digests.map((d) => signer.sign(d)));
    // Every third signature belongs to another digest.
    const answers = await Promise.all(digests.map((d, i) => q.verifier.verify(key, d, i % 3 === 0 ? sigs[(i + 1) % 1000]! : sigs[i]!)));
    answers.forEach((ok, i) => expect(ok).toBe(i % 3 !== 0));
    expect(q.stats.verified).toBe(1000);
    expect(q.stats.batches).toBeGreaterThanOrEqual(Math.ceil(1000 / 64));
    expect(q.stats.batches).toBeLessThan(100);
    expect(q.stats.fallback).toBe(0);
  });
});

describe('crypto pool signing', () => {
  test("signatures are byte for byte the in-thread signer's (ed25519 is deterministic)", async () => {
    const p = pool(2);
    expect(p.signer?.publicKey).toBe(signer.publicKey);
    const digests = Array.from({ length: 300 }, (_, i) => sha256(utf8(`accept ${i}`)));
    const pooled = await Promise.all(digests.map((d) => p.signer!.sign(d)));
    const local = await Promise.all(digests.map((d) => signer.sign(d)));
    expect(pooled).toEqual(local);
    expect(p.stats.signed).toBe(300);
  });

  test('a pool without the secret only verifies', () => {
    const p = startCryptoPool({ threads: 1, secret: null, fallback: { verifier, signer: null } });
    expect(p).not.toBeNull();
    pools.push(p!);
    expect(p!.signer).toBeNull();
  });
});

describe('failures cost speed, never answers', () => {
  test('threads that cannot start: every call is answered in-thread and reported', async () => {
    const errors: string[] = [];
    // A 5-byte secret makes createNodeSigner throw inside each thread at init.
    const p = pool(2, { secret: new Uint8Array(5), onThreadError: (e) => errors.push(e) });
    const digests = Array.from({ length: 50 }, (_, i) => sha256(utf8(`x ${i}`)));
    const sigs = await Promise.all(digests.map((d) => p.signer!.sign(d)));
    expect(sigs).toEqual(await Promise.all(digests.map((d) => signer.sign(d))));
    const key = parsePublicKey(signer.publicKey);
    expect(await Promise.all(digests.map((d, i) => p.verifier.verify(key, d, sigs[i]!)))).toEqual(digests.map(() => true));
    expect(errors.length).toBe(2);
    expect(p.stats.fallback).toBe(100);
  });

  test('after close, calls still answer (in-thread) and close waits for work in flight', async () => {
    const p = pool(1);
    const key = parsePublicKey(signer.publicKey);
    const d = sha256(utf8('late'));
    const sig = await signer.sign(d);
    const inFlight = Promise.all(Array.from({ length: 200 }, () => p.verifier.verify(key, d, sig)));
    await p.close();
    expect(await inFlight).toEqual(Array.from({ length: 200 }, () => true));
    expect(await p.verifier.verify(key, d, sig)).toBe(true);
    expect(await p.signer!.sign(d)).toEqual(sig);
    expect(p.stats.fallback).toBe(2);
  });
});

describe('DSTP_CRYPTO_THREADS', () => {
  test("'auto' leaves one core to the serving thread, at most 4 threads; numbers are taken as given", () => {
    expect(loadConfig({}).cryptoThreads).toBe('auto');
    const cores = navigator.hardwareConcurrency;
    expect(cryptoThreads('auto')).toBe(Math.max(0, Math.min(4, cores - 1)));
    expect(loadConfig({ DSTP_CRYPTO_THREADS: '0' }).cryptoThreads).toBe(0);
    expect(cryptoThreads(loadConfig({ DSTP_CRYPTO_THREADS: '3' }).cryptoThreads)).toBe(3);
  });

  test('bad values are refused with a clear message', () => {
    for (const bad of ['-1', 'many', '65', '1.5']) {
      expect(() => loadConfig({ DSTP_CRYPTO_THREADS: bad })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ DSTP_CRYPTO_THREADS: 'x' })).toThrow(/DSTP_CRYPTO_THREADS/);
  });

  test('0 threads: no pool', () => {
    expect(startCryptoPool({ threads: 0, secret, fallback: { verifier, signer } })).toBeNull();
  });
});
