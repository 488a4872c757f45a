/**
 * Native vs noble: SHA-256 and signature verification. Run: `bun bench/crypto.ts`
 * (also `node --import tsx bench/crypto.ts`). Prints ops/s and the speed-up over noble.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '../src/core/hash.ts';
import { createKeyParser, parsePublicKey, publicKeyFromSecret, signDigest, verifyParsed, type Scheme } from '../src/core/keys.ts';
import { strictNativeEd25519, type Ed25519Backend } from '../src/platform/ed25519-native.ts';
import { createNodeSigner } from '../src/platform/node-signer.ts';
import { selectSha256 } from '../src/platform/sha256.ts';
import { pickBackend } from '../src/platform/verifier.ts';

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';

async function measure(fn: (i: number) => unknown, minMs = 400): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(i); // warm-up (JIT, key caches)
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let j = 0; j < 100; j++) await fn(n++);
    elapsed = performance.now() - start;
  }
  return (n * 1000) / elapsed;
}

function row(name: string, opsPerSec: number, baseline?: number): void {
  const ratio = baseline ? `  ×${(opsPerSec / baseline).toFixed(1)}` : '';
  console.log(`${name.padEnd(44)} ${Math.round(opsPerSec).toLocaleString('en-US').padStart(12)} ops/s${ratio}`);
}

console.log(`runtime: ${runtime}`);

// SHA-256 over node-sized inputs (65 B: 0x01 || left || right).
const input = new Uint8Array(65).fill(7);
const nobleHash = await measure(() => nobleSha256(input));
row('sha256 65 B noble', nobleHash);
const native = selectSha256();
if (native.name !== 'noble') row(`sha256 65 B ${native.name}`, await measure(() => native.hash(input)), nobleHash);

// Ed25519: 64 keys so the native key cache is exercised like a busy node.
const secrets = Array.from({ length: 64 }, (_, i) => new Uint8Array(32).fill(i + 1));
const digests = Array.from({ length: 64 }, (_, i) => nobleSha256(new Uint8Array([i])));
const edKeys = secrets.map((s) => parsePublicKey(publicKeyFromSecret('ed25519', s)));
const edSigs = secrets.map((s, i) => signDigest('ed25519', s, digests[i]!));
const badSigs = edSigs.map((s) => {
  const b = s.slice();
  b[40]! ^= 1; // in S: R still decodes, so noble does the full check (worst case)
  return b;
});

const nobleEd = await measure((i) => verifyParsed(edKeys[i % 64]!, digests[i % 64]!, edSigs[i % 64]!), 800);
row('ed25519 verify noble (zip215: false)', nobleEd);
for (const choice of ['node:crypto', 'webcrypto'] as const) {
  const backend: Ed25519Backend | null = await pickBackend(choice);
  if (!backend) {
    console.log(`ed25519 verify ${choice}: unavailable`);
    continue;
  }
  const strict = strictNativeEd25519(backend);
  row(`ed25519 verify ${choice} raw`, await measure((i) => backend.verify(edKeys[i % 64]!.bytes, digests[i % 64]!, edSigs[i % 64]!)), nobleEd);
  row(`ed25519 verify ${choice} strict (valid sig)`, await measure((i) => strict(edKeys[i % 64]!.bytes, digests[i % 64]!, edSigs[i % 64]!)), nobleEd);
  row(`ed25519 verify ${choice} strict (bad sig)`, await measure((i) => strict(edKeys[i % 64]!.bytes, digests[i % 64]!, badSigs[i % 64]!)), nobleEd);
}
const nobleSign = await measure((i) => ed25519.sign(digests[i % 64]!, secrets[i % 64]!));
row('ed25519 sign noble', nobleSign);
const signer = await createNodeSigner(secrets[0]!);
row(`ed25519 sign node-signer (native: ${signer.native})`, await measure((i) => signer.sign(digests[i % 64]!)), nobleSign);

for (const scheme of ['secp256k1', 'bip340'] as Scheme[]) {
  const keys = secrets.map((s) => parsePublicKey(publicKeyFromSecret(scheme, s)));
  const sigs = secrets.map((s, i) => signDigest(scheme, s, digests[i]!));
  row(`${scheme} verify noble`, await measure((i) => verifyParsed(keys[i % 64]!, digests[i % 64]!, sigs[i % 64]!)));
}
row('parsePublicKey ed25519 (point decode)', await measure((i) => parsePublicKey(edKeys[i % 64]!.id)));
const parseCached = createKeyParser();
row('parsePublicKey ed25519 memoized', await measure((i) => parseCached(edKeys[i % 64]!.id)));
