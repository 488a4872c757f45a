import { fail } from '../core/errors.ts';
import { fromHex } from '../core/hex.ts';
import { DIGEST_BYTES, nobleVerifier, SIGNATURE_BYTES, verifyParsed, type SignatureVerifier } from '../core/keys.ts';
import { nodeCryptoEd25519, strictNativeEd25519, webCryptoEd25519, type Ed25519Backend } from './ed25519-native.ts';

/**
 * The runtime's signature verifier: ed25519 through a native backend wrapped to answer exactly
 * like strict RFC 8032 (see ed25519-native.ts), secp256k1 and BIP-340 through noble.
 *
 * Backend order, measured on Bun 1.4.5 and Node 20 (bench/crypto.ts): synchronous node:crypto,
 * then WebCrypto (a promise per call), then noble. A backend is used only after it accepts an
 * RFC 8032 vector and rejects its tampered twin.
 */
export interface VerifierOptions {
  /** Which ed25519 backend to try: 'auto' (default) picks the first that works. */
  ed25519?: 'auto' | 'node:crypto' | 'webcrypto' | 'noble';
}

export async function createVerifier(opts: VerifierOptions = {}): Promise<SignatureVerifier> {
  const backend = await pickBackend(opts.ed25519 ?? 'auto');
  if (!backend) return nobleVerifier;
  const ed = strictNativeEd25519(backend);
  return {
    name: `ed25519:${backend.name}+noble`,
    verify: async (key, digest32, sig) => {
      if (digest32.length !== DIGEST_BYTES) fail('invalid_length', 'digest must be 32 bytes', { expected: DIGEST_BYTES, got: digest32.length });
      if (sig.length !== SIGNATURE_BYTES) fail('invalid_signature', 'signature must be 64 bytes', { got: sig.length });
      return key.scheme === 'ed25519' ? ed(key.bytes, digest32, sig) : verifyParsed(key, digest32, sig);
    },
  };
}

// RFC 8032 §7.1 TEST 2 (one-byte message).
const PROBE_PUB = fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
const PROBE_MSG = fromHex('72');
const PROBE_SIG = fromHex(
  '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
);

async function works(backend: Ed25519Backend): Promise<boolean> {
  try {
    const tampered = PROBE_SIG.slice();
    tampered[40]! ^= 1;
    return (await backend.verify(PROBE_PUB, PROBE_MSG, PROBE_SIG)) === true && (await backend.verify(PROBE_PUB, PROBE_MSG, tampered)) === false;
  } catch {
    return false;
  }
}

export async function pickBackend(choice: NonNullable<VerifierOptions['ed25519']>): Promise<Ed25519Backend | null> {
  if (choice === 'noble') return null;
  const makers: (() => Ed25519Backend | null)[] =
    choice === 'node:crypto' ? [nodeCryptoEd25519] : choice === 'webcrypto' ? [webCryptoEd25519] : [nodeCryptoEd25519, webCryptoEd25519];
  for (const make of makers) {
    const backend = make();
    if (backend && (await works(backend))) return backend;
  }
  return null;
}
