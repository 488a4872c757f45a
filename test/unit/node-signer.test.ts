import { describe, expect, test } from 'bun:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createNodeSigner } from '../../src/platform/node-signer.ts';
import { sha256 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';

describe('node signer', () => {
  test('native signatures are byte-identical to noble (RFC 8032 determinism) and verify', async () => {
    for (const seed of ['node-a', 'node-b', 'node-c']) {
      const secret = sha256(utf8(seed));
      const signer = await createNodeSigner(secret);
      expect(signer.publicKey).toBe(`ed25519:${toHex(ed25519.getPublicKey(secret))}`);
      for (let i = 0; i < 20; i++) {
        const digest = sha256(utf8(`${seed}/${i}`));
        const sig = await signer.sign(digest);
        expect(toHex(sig)).toBe(toHex(ed25519.sign(digest, secret)));
        expect(ed25519.verify(sig, digest, ed25519.getPublicKey(secret), { zip215: false })).toBe(true);
      }
    }
  });
});
