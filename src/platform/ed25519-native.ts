import { verifyEd25519Strict } from '../core/keys.ts';
import { toHex } from '../core/hex.ts';
import { loadNodeCrypto } from './sha256.ts';

/**
 * Native Ed25519 verification (OpenSSL in Node, BoringSSL in Bun, the host's WebCrypto elsewhere)
 * made to answer exactly like strict RFC 8032 (noble `zip215: false`).
 *
 * Native verifiers check the cofactorless equation [S]B = R + [k]A by re-encoding, and may be
 * lax on encodings. With the cheap checks below (S < L, canonical R and A, A not of small
 * order) a native `true` implies the exact equation over the same decoded points, hence the
 * cofactored one noble checks: native `true` => noble `true`. The converse fails only when R or
 * A carries a torsion component (noble accepts, cofactorless rejects), which honest signers never
 * produce; so a native `false` is confirmed by noble. Valid signatures take the fast path;
 * invalid ones pay native + noble, never more than about twice noble's cost.
 */
export type RawEd25519Verify = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean | Promise<boolean>;

export interface Ed25519Backend {
  readonly name: 'node:crypto' | 'webcrypto';
  readonly verify: RawEd25519Verify;
}

// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/** S (sig[32..64], little-endian) < L. */
export function isCanonicalScalar(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = L_LE[i]!;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

/**
 * RFC 8032 §5.1.3 canonical point encoding without decoding: y < p = 2^255 - 19, and not the
 * "negative zero" x (sign bit set where x = 0, i.e. y = 1 or y = p - 1). Whether y is on the
 * curve at all is left to the verifier: a non-point can never equal a re-encoded point.
 */
export function isCanonicalPointEncoding(b: Uint8Array): boolean {
  const sign = b[31]! & 0x80;
  const top = b[31]! & 0x7f;
  // y >= p only when bytes 1..30 are 0xff, byte 31 (masked) is 0x7f and byte 0 >= 0xed.
  let allFF = top === 0x7f;
  for (let i = 1; i < 31 && allFF; i++) allFF = b[i] === 0xff;
  if (allFF && b[0]! >= 0xed) return false;
  if (sign) {
    let rest = top === 0;
    for (let i = 1; i < 31 && rest; i++) rest = b[i] === 0;
    if (rest && b[0] === 0x01) return false; // y = 1
    if (allFF && b[0] === 0xec) return false; // y = p - 1
  }
  return true;
}

/** Canonical encodings of the eight points of order dividing 8 (all other encodings of them are non-canonical). */
const SMALL_ORDER = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
]);

export function isSmallOrderEncoding(pub: Uint8Array): boolean {
  return SMALL_ORDER.has(toHex(pub));
}

/** What noble rejects before any curve arithmetic; the native path must reject the same. */
export function failsStrictPrechecks(pub: Uint8Array, sig: Uint8Array): boolean {
  return (
    pub.length !== 32 ||
    sig.length !== 64 ||
    !isCanonicalScalar(sig) ||
    !isCanonicalPointEncoding(sig.subarray(0, 32)) ||
    !isCanonicalPointEncoding(pub) ||
    isSmallOrderEncoding(pub)
  );
}

/** Strict-RFC-8032 verification through a native backend (see the module comment for why it is exact). */
export function strictNativeEd25519(backend: Ed25519Backend): (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => Promise<boolean> {
  return async (pub, msg, sig) => {
    if (failsStrictPrechecks(pub, sig)) return false;
    let ok = false;
    try {
      ok = await backend.verify(pub, msg, sig);
    } catch {
      ok = false; // e.g. a key the native importer refuses: let noble decide
    }
    return ok || verifyEd25519Strict(pub, msg, sig);
  };
}

/** A bounded map: recently used keys stay, the oldest insertion goes first. */
class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(k: string, make: () => V): V {
    let v = this.map.get(k);
    if (v === undefined) {
      v = make();
      if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value!);
      this.map.set(k, v);
    }
    return v;
  }
}

const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

interface NodeVerifyCrypto {
  createPublicKey(input: { key: Uint8Array; format: 'der'; type: 'spki' }): unknown;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
}

/** Synchronous node:crypto verify (Node, Bun, Deno): no promise per call, key objects cached. */
export function nodeCryptoEd25519(cacheSize = 4096): Ed25519Backend | null {
  const c = loadNodeCrypto() as unknown as Partial<NodeVerifyCrypto> | null;
  if (!c || typeof c.createPublicKey !== 'function' || typeof c.verify !== 'function') return null;
  const { createPublicKey, verify } = c as NodeVerifyCrypto;
  const keys = new BoundedCache<unknown>(cacheSize);
  const der = (pub: Uint8Array) => {
    const out = new Uint8Array(44);
    out.set(SPKI_ED25519_PREFIX);
    out.set(pub, 12);
    return out;
  };
  return {
    name: 'node:crypto',
    verify: (pub, msg, sig) => {
      const key = keys.get(toHex(pub), () => createPublicKey({ key: der(pub), format: 'der', type: 'spki' }));
      return verify(null, msg, key, sig);
    },
  };
}

/** WebCrypto `Ed25519` (workerd, browsers, Deno, Node ≥ 20); imported keys cached. */
export function webCryptoEd25519(cacheSize = 4096): Ed25519Backend | null {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) return null;
  const keys = new BoundedCache<Promise<CryptoKey>>(cacheSize);
  const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;
  return {
    name: 'webcrypto',
    verify: async (pub, msg, sig) => {
      const key = keys.get(toHex(pub), () => subtle.importKey('raw', buf(pub.slice()), { name: 'Ed25519' }, false, ['verify']));
      return subtle.verify({ name: 'Ed25519' }, await key, buf(sig), buf(msg));
    },
  };
}
