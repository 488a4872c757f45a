import { secp256k1 } from '@noble/curves/secp256k1.js';
import { fail } from '../core/errors.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { publicKeyFromSecret, SCHEMES, type Scheme } from '../core/keys.ts';

/**
 * Key pairs for app developers. The client may use randomness (the core may not): secrets come
 * from the Web Crypto CSPRNG, which browsers, Bun, Deno, Node ≥ 19 and Workers all provide as
 * `globalThis.crypto`.
 */
export interface KeyPair {
  scheme: Scheme;
  /** 32-byte secret as lowercase hex (an ed25519 seed or a secp256k1 scalar). Keep it private. */
  secret: string;
  /** `scheme:hex`: the public key and account address. */
  publicKey: string;
}

/** Anything that can sign: a key pair, or just its scheme and secret. */
export interface SigningKey {
  scheme: Scheme;
  secret: string | Uint8Array;
  /** Optional; when given it must belong to the secret (checked by `keyFromSecret`). */
  publicKey?: string;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

export function isScheme(s: unknown): s is Scheme {
  return typeof s === 'string' && (SCHEMES as readonly string[]).includes(s);
}

/**
 * A fresh key pair. Any 32 bytes are an ed25519 seed; a secp256k1 / BIP-340 secret must lie in
 * 1..n-1, so out-of-range draws (probability about 2^-128) are rejected and drawn again rather
 * than reduced, which would bias the distribution.
 */
export function generateKey(scheme: Scheme = 'ed25519'): KeyPair {
  if (!isScheme(scheme)) fail('unsupported_scheme', `unknown key scheme "${String(scheme)}"`, { supported: SCHEMES });
  for (;;) {
    const secret = randomBytes(32);
    if (scheme !== 'ed25519' && !secp256k1.utils.isValidSecretKey(secret)) continue;
    return { scheme, secret: toHex(secret), publicKey: publicKeyFromSecret(scheme, secret) };
  }
}

/** The key pair of a known secret (lowercase hex, 32 bytes). */
export function keyFromSecret(scheme: Scheme, secretHex: string): KeyPair {
  if (!isScheme(scheme)) fail('unsupported_scheme', `unknown key scheme "${String(scheme)}"`, { supported: SCHEMES });
  const secret = fromHex(secretHex, 32, 'secret');
  return { scheme, secret: secretHex, publicKey: publicKeyFromSecret(scheme, secret) };
}

/**
 * Validates a stored key pair (e.g. a key file's JSON): the scheme is known, the secret is 32
 * bytes of hex and, when a public key is written down, it is the one the secret yields — a
 * mismatch means the file was edited or mixed up, and signing with it would fail far away.
 */
export function parseKeyPair(value: unknown): KeyPair {
  const o = value as Partial<Record<keyof KeyPair, unknown>> | null;
  if (o === null || typeof o !== 'object') fail('invalid_key', 'a key pair is an object {scheme, secret, publicKey}');
  if (!isScheme(o.scheme)) fail('unsupported_scheme', `unknown key scheme "${String(o.scheme)}"`, { supported: SCHEMES });
  if (typeof o.secret !== 'string') fail('invalid_key', 'key pair secret must be hex');
  const pair = keyFromSecret(o.scheme, o.secret);
  if (o.publicKey !== undefined && o.publicKey !== pair.publicKey) {
    fail('invalid_key', 'key pair publicKey does not belong to its secret', { expected: pair.publicKey, got: o.publicKey });
  }
  return pair;
}

/** The secret as bytes, whichever form the caller holds. */
export function secretBytes(key: SigningKey): Uint8Array {
  return typeof key.secret === 'string' ? fromHex(key.secret, 32, 'secret') : key.secret;
}

/** The signer's address, derived from the secret (and checked against `publicKey` if given). */
export function publicKeyOf(key: SigningKey): string {
  const pub = publicKeyFromSecret(key.scheme, secretBytes(key));
  if (key.publicKey !== undefined && key.publicKey !== pub) {
    fail('invalid_key', 'publicKey does not belong to the secret', { expected: pub, got: key.publicKey });
  }
  return pub;
}
