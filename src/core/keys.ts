import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { DstpError, fail } from './errors.ts';
import { fromHex, toHex } from './hex.ts';

/**
 * Keys and signatures of SPEC §2. A public key is written `scheme:hex`, and that string is the
 * account's address, so parsing is strict: one spelling per key, and only points that can ever
 * verify a signature under our rules.
 */
export type Scheme = 'ed25519' | 'secp256k1' | 'bip340';

export const SCHEMES: readonly Scheme[] = ['ed25519', 'secp256k1', 'bip340'];

export interface PublicKey {
  readonly scheme: Scheme;
  /** Raw key bytes: 32 (ed25519), 33 SEC1 compressed (secp256k1), 32 x-only (bip340). */
  readonly bytes: Uint8Array;
  /** The canonical `scheme:hex` address string. */
  readonly id: string;
}

export const PUBLIC_KEY_BYTES: Readonly<Record<Scheme, number>> = { ed25519: 32, secp256k1: 33, bip340: 32 };
export const SIGNATURE_BYTES = 64;
export const DIGEST_BYTES = 32;

const LOWER_HEX = /^[0-9a-f]*$/;

function isScheme(s: string): s is Scheme {
  return s === 'ed25519' || s === 'secp256k1' || s === 'bip340';
}

/**
 * Parses `scheme:hex`. Throws `unsupported_scheme` for an unknown scheme and `invalid_key` for
 * anything else that is wrong: case, length, a point off the curve or non-canonically encoded,
 * and ed25519 points of small order (strict verification rejects every signature under them).
 */
export function parsePublicKey(s: string): PublicKey {
  if (typeof s !== 'string') fail('invalid_key', 'public key must be a string "scheme:hex"');
  const colon = s.indexOf(':');
  if (colon <= 0) fail('invalid_key', 'public key must be written "scheme:hex"', { key: s.slice(0, 80) });
  const scheme = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (!isScheme(scheme)) fail('unsupported_scheme', `unknown key scheme "${scheme.slice(0, 32)}"`, { supported: SCHEMES });
  const want = PUBLIC_KEY_BYTES[scheme];
  if (hex.length !== want * 2 || !LOWER_HEX.test(hex)) {
    fail('invalid_key', `${scheme} public key must be ${want} bytes of lowercase hex`, { scheme, expectedHex: want * 2 });
  }
  const bytes = fromHex(hex);
  const problem = pointProblem(scheme, bytes);
  if (problem) fail('invalid_key', `${scheme} public key is not a valid point: ${problem}`, { scheme, reason: problem });
  return { scheme, bytes, id: `${scheme}:${hex}` };
}

/**
 * parsePublicKey with a bounded memo of successful parses. Decoding an ed25519 point costs more
 * than a native signature check, and busy accounts sign again and again; the cache is a value
 * owned by its caller (no module state). Failures are not cached.
 */
export function createKeyParser(limit = 10_000): (s: string) => PublicKey {
  const seen = new Map<string, PublicKey>();
  return (s) => {
    const hit = seen.get(s);
    if (hit) return hit;
    const key = parsePublicKey(s);
    if (seen.size >= limit) seen.delete(seen.keys().next().value!);
    seen.set(s, key);
    return key;
  };
}

export function isPublicKeyString(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  try {
    parsePublicKey(s);
    return true;
  } catch {
    return false;
  }
}

/** Why these bytes are not an acceptable key of `scheme`, or null when they are. */
function pointProblem(scheme: Scheme, bytes: Uint8Array): string | null {
  try {
    switch (scheme) {
      case 'ed25519': {
        // zip215=false: rejects y >= p and the "negative zero" x encoding (RFC 8032 §5.1.3).
        const p = ed25519.Point.fromBytes(bytes, false);
        return p.isSmallOrder() ? 'small-order point' : null;
      }
      case 'secp256k1':
        if (bytes[0] !== 0x02 && bytes[0] !== 0x03) return 'not SEC1 compressed (prefix must be 02 or 03)';
        secp256k1.Point.fromBytes(bytes).assertValidity();
        return null;
      case 'bip340':
        schnorr.utils.lift_x(bytesToNumberBE(bytes));
        return null;
    }
  } catch (e) {
    return e instanceof Error ? e.message : 'undecodable point';
  }
}

function assertSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) fail('invalid_key', 'secret key must be 32 bytes');
}

function assertDigest(digest32: Uint8Array): void {
  if (!(digest32 instanceof Uint8Array) || digest32.length !== DIGEST_BYTES) {
    fail('invalid_length', 'digest must be 32 bytes', { expected: DIGEST_BYTES, got: digest32?.length });
  }
}

/** The `scheme:hex` address of a 32-byte secret (an ed25519 seed or a secp256k1 scalar). */
export function publicKeyFromSecret(scheme: Scheme, secret: Uint8Array): string {
  assertSecret(secret);
  try {
    switch (scheme) {
      case 'ed25519':
        return `ed25519:${toHex(ed25519.getPublicKey(secret))}`;
      case 'secp256k1':
        return `secp256k1:${toHex(secp256k1.getPublicKey(secret, true))}`;
      case 'bip340':
        return `bip340:${toHex(schnorr.getPublicKey(secret))}`;
    }
  } catch (e) {
    throw new DstpError('invalid_key', `secret key is not valid for ${scheme}`, { cause: String(e) });
  }
  return fail('unsupported_scheme', `unknown key scheme "${String(scheme)}"`);
}

const ZERO_AUX = new Uint8Array(32);

/**
 * Signs a 32-byte digest as SPEC §2 says. Deterministic for ed25519 and secp256k1 (RFC 6979,
 * low-S); BIP-340 takes `auxRand`, which defaults to zeros because the core owns no randomness —
 * clients should pass 32 fresh random bytes.
 */
export function signDigest(scheme: Scheme, secret: Uint8Array, digest32: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  assertSecret(secret);
  assertDigest(digest32);
  try {
    switch (scheme) {
      case 'ed25519':
        return ed25519.sign(digest32, secret);
      case 'secp256k1':
        return secp256k1.sign(digest32, secret, { prehash: false, lowS: true, format: 'compact', extraEntropy: false });
      case 'bip340':
        return schnorr.sign(digest32, secret, auxRand ?? ZERO_AUX);
    }
  } catch (e) {
    throw new DstpError('invalid_key', `cannot sign with this ${scheme} secret`, { cause: String(e) });
  }
  return fail('unsupported_scheme', `unknown key scheme "${String(scheme)}"`);
}

/** A signature as given on the wire (hex) or as bytes; anything but 64 bytes is malformed. */
export function parseSignature(sig: Uint8Array | string): Uint8Array {
  if (typeof sig === 'string') {
    if (sig.length !== SIGNATURE_BYTES * 2 || !LOWER_HEX.test(sig)) {
      fail('invalid_signature', 'signature must be 64 bytes of lowercase hex', { gotHexLength: sig.length });
    }
    return fromHex(sig);
  }
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) {
    fail('invalid_signature', 'signature must be 64 bytes', { got: sig instanceof Uint8Array ? sig.length : typeof sig });
  }
  return sig;
}

/**
 * Strict RFC 8032 Ed25519 over any message: canonical A and R, S < L, small-order A refused,
 * cofactored equation (noble `zip215: false`). The rule every ed25519 path must reproduce.
 */
export function verifyEd25519Strict(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== SIGNATURE_BYTES) return false;
  try {
    return ed25519.verify(sig, msg, pub, { zip215: false });
  } catch {
    return false;
  }
}

/** Verification over already-validated parts; false for any well-formed but wrong signature. */
export function verifyParsed(key: PublicKey, digest32: Uint8Array, sig: Uint8Array): boolean {
  switch (key.scheme) {
    case 'ed25519':
      return verifyEd25519Strict(key.bytes, digest32, sig);
    case 'secp256k1':
      try {
        // lowS: high-S is the malleated twin of a valid signature and SPEC §2 rejects it.
        return secp256k1.verify(sig, digest32, key.bytes, { prehash: false, lowS: true, format: 'compact' });
      } catch {
        return false;
      }
    case 'bip340':
      try {
        return schnorr.verify(sig, digest32, key.bytes);
      } catch {
        return false;
      }
  }
}

/**
 * Verifies `sig` over the 32-byte digest. Throws `invalid_key` / `unsupported_scheme` for a bad
 * key, `invalid_signature` for a signature that is not 64 bytes, `invalid_length` for a digest
 * that is not 32 bytes; returns false for a well-formed signature that does not verify.
 */
export function verifyDigest(key: string | PublicKey, digest32: Uint8Array, sig: Uint8Array | string): boolean {
  const pk = typeof key === 'string' ? parsePublicKey(key) : key;
  assertDigest(digest32);
  return verifyParsed(pk, digest32, parseSignature(sig));
}

/**
 * A verifier as a value, so a runtime can inject a faster native implementation that must give
 * exactly the answers of `nobleVerifier`.
 */
export interface SignatureVerifier {
  /** Which implementation answers, for logs and benchmarks. */
  readonly name: string;
  verify(key: PublicKey, digest32: Uint8Array, sig: Uint8Array): Promise<boolean>;
}

export const nobleVerifier: SignatureVerifier = {
  name: 'noble',
  verify: async (key, digest32, sig) => verifyDigest(key, digest32, sig),
};
