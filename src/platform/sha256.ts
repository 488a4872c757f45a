import { sha256 as nobleSha256, type Sha256 } from '../core/hash.ts';
import { bytesEqual } from '../core/hex.ts';

/**
 * The fastest SHA-256 this runtime offers, as a `Sha256` value for the core. Candidates are
 * tried in order and one is used only if it agrees with noble on probe inputs; otherwise noble.
 * Measured on Bun 1.4.5 (see bench/crypto.ts): Bun.SHA256.hash is several times faster than
 * noble for the 33-97 byte inputs that tree and log hashing feed it.
 */
export interface NamedSha256 {
  readonly name: 'bun' | 'node:crypto' | 'noble';
  readonly hash: Sha256;
  /** Writes the digest into `out` without allocating (Bun); the tree's hot loop uses it. */
  readonly hashInto?: (data: Uint8Array, out: Uint8Array) => void;
  /** SHA-256 of a string's UTF-8 into `out`, without making the bytes (Bun): the tree hashes keys and canonical JSON with it. */
  readonly hashTextInto?: (text: string, out: Uint8Array) => void;
}

/** The `SparseMerkleTree` options for a selected SHA-256: every form it offers. */
export function treeHashOptions(sha: NamedSha256): { hash: Sha256; hashInto?: NamedSha256['hashInto']; hashTextInto?: NamedSha256['hashTextInto'] } {
  return { hash: sha.hash, ...(sha.hashInto ? { hashInto: sha.hashInto } : {}), ...(sha.hashTextInto ? { hashTextInto: sha.hashTextInto } : {}) };
}

export function nativeSha256(): Sha256 {
  return selectSha256().hash;
}

export function selectSha256(): NamedSha256 {
  for (const candidate of [bunSha256, nodeSha256]) {
    const found = candidate();
    if (found && agreesWithNoble(found.hash)) return found;
  }
  return { name: 'noble', hash: nobleSha256 };
}

interface BunLike {
  SHA256: { hash(data: Uint8Array | string, out?: Uint8Array): Uint8Array };
}

function bunSha256(): NamedSha256 | null {
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  if (!bun?.SHA256?.hash) return null;
  const impl = bun.SHA256;
  const hashInto = (data: Uint8Array, out: Uint8Array) => void impl.hash(data, out);
  const probe = new Uint8Array(32);
  hashInto(PROBES[2]!, probe);
  const intoAgrees = bytesEqual(probe, nobleSha256(PROBES[2]!));
  // Strings are hashed as UTF-8: checked on text with 2-, 3- and 4-byte characters.
  const hashTextInto = (text: string, out: Uint8Array) => void impl.hash(text, out);
  const textAgrees = TEXT_PROBES.every((t) => {
    hashTextInto(t, probe);
    return bytesEqual(probe, nobleSha256(new TextEncoder().encode(t)));
  });
  return { name: 'bun', hash: (data) => impl.hash(data), ...(intoAgrees ? { hashInto } : {}), ...(intoAgrees && textAgrees ? { hashTextInto } : {}) };
}

interface NodeCryptoLike {
  hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Uint8Array;
  createHash: (algorithm: string) => { update(data: Uint8Array): { digest(): Uint8Array } };
}

/** node:crypto without a static import, so bundles for Workers/browsers never pull it in. */
export function loadNodeCrypto(): NodeCryptoLike | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return (proc?.getBuiltinModule?.('node:crypto') as NodeCryptoLike | undefined) ?? null;
  } catch {
    return null;
  }
}

function nodeSha256(): NamedSha256 | null {
  const nodeCrypto = loadNodeCrypto();
  if (!nodeCrypto) return null;
  // A view, not the Buffer itself: callers compare and store plain Uint8Arrays.
  const asView = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const oneShot = nodeCrypto.hash;
  if (typeof oneShot === 'function') {
    return { name: 'node:crypto', hash: (data) => asView(oneShot('sha256', data, 'buffer')) };
  }
  return { name: 'node:crypto', hash: (data) => asView(nodeCrypto.createHash('sha256').update(data).digest()) };
}

const PROBES: Uint8Array[] = [
  new Uint8Array(0),
  new TextEncoder().encode('abc'),
  Uint8Array.from({ length: 65 }, (_, i) => i),
  Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff),
];

const TEXT_PROBES = ['', 'acct/42', '{"a":"é€𝄞","b":[1,2.5,null]}', 'x'.repeat(300)];

function agreesWithNoble(hash: Sha256): boolean {
  try {
    return PROBES.every((p) => bytesEqual(hash(p), nobleSha256(p)));
  } catch {
    return false;
  }
}
