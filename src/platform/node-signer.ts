import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesEqual, toHex } from '../core/hex.ts';

/**
 * The node's own ed25519 signer (acceptances, rounds, checkpoints). Ed25519 signatures are
 * deterministic, so the native WebCrypto path must produce exactly noble's bytes; it is used only
 * after it proved that on a probe message, and otherwise noble signs.
 */
export interface NodeSigner {
  /** `ed25519:<hex>` — the node's address. */
  readonly publicKey: string;
  readonly native: boolean;
  sign(digest32: Uint8Array): Promise<Uint8Array>;
}

/**
 * Preference, measured on Bun 1.4.5 (bench/crypto.ts): synchronous `node:crypto` sign (~58k/s) over
 * WebCrypto (~17k/s, a promise per call) over noble (~2k/s cold).
 */
export async function createNodeSigner(secret: Uint8Array): Promise<NodeSigner> {
  const pub = ed25519.getPublicKey(secret);
  const publicKey = `ed25519:${toHex(pub)}`;
  const probe = new Uint8Array(32).fill(7);
  const expected = ed25519.sign(probe, secret);
  const candidates: (() => Promise<((d: Uint8Array) => Promise<Uint8Array>) | null>)[] = [
    () => nodeCryptoSigner(secret),
    () => webCryptoSigner(secret, pub),
  ];
  for (const make of candidates) {
    const sign = await make().catch(() => null);
    if (sign && (await sign(probe).then((s) => bytesEqual(s, expected), () => false))) {
      return { publicKey, native: true, sign };
    }
  }
  return { publicKey, native: false, sign: async (d) => ed25519.sign(d, secret) };
}

const PKCS8_ED25519_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

async function nodeCryptoSigner(secret: Uint8Array): Promise<((d: Uint8Array) => Promise<Uint8Array>) | null> {
  const nodeCrypto = await import('node:crypto').catch(() => null);
  if (!nodeCrypto?.createPrivateKey || !nodeCrypto.sign) return null;
  const der = new Uint8Array(48);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(secret, 16);
  const key = nodeCrypto.createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  return async (d) => new Uint8Array(nodeCrypto.sign(null, d, key));
}

async function webCryptoSigner(secret: Uint8Array, pub: Uint8Array): Promise<((d: Uint8Array) => Promise<Uint8Array>) | null> {
  const key = await importWebCrypto(secret, pub);
  if (!key) return null;
  return async (d) => new Uint8Array(await crypto.subtle.sign('Ed25519', key, d as Uint8Array<ArrayBuffer>));
}

async function importWebCrypto(secret: Uint8Array, pub: Uint8Array): Promise<CryptoKey | null> {
  if (typeof crypto === 'undefined' || !crypto.subtle) return null;
  try {
    const jwk = { kty: 'OKP', crv: 'Ed25519', d: b64url(secret), x: b64url(pub) };
    return await crypto.subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign']);
  } catch {
    return null;
  }
}

function b64url(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
