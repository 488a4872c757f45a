import { ed25519 } from '@noble/curves/ed25519.js';
import { fail } from './errors.ts';
import { sha256, type Sha256 } from './hash.ts';
import { bytesEqual, concatBytes, toHex, utf8 } from './hex.ts';

/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and the tlog-checkpoint body
 * (c2sp.org/tlog-checkpoint) the node publishes for its checkpoint log (SPEC §9):
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n…]\n — <key name> <base64(key ID || sig)>\n
 *
 * Key ID = first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key). Signing
 * needs the node's key, which the core does not hold: `noteSignatureLine` takes the signature.
 */

export const NOTE_ED25519_TYPE = 0x01;
const EM_DASH_PREFIX = '\u2014 ';
/** Verifiers must accept 16 signatures; we refuse notes with more than this many lines of them. */
const MAX_SIGNATURES = 100;

/** A key name: non-empty, no Unicode space, no `+` (C2SP signed-note). */
export function isValidKeyName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && !/[\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name) && !hasControl(name);
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}

/** `SHA-256(name || 0x0A || 0x01 || pub)[:4]` — the 4-byte key ID of an Ed25519 note key. */
export function noteKeyId(name: string, publicKey: Uint8Array, hash: Sha256 = sha256): Uint8Array {
  if (!isValidKeyName(name)) fail('invalid_request', 'note key name must be non-empty without spaces or "+"', { name });
  if (publicKey.length !== 32) fail('invalid_length', 'ed25519 public key must be 32 bytes', { got: publicKey.length });
  return hash(concatBytes(utf8(name), new Uint8Array([0x0a, NOTE_ED25519_TYPE]), publicKey)).slice(0, 4);
}

/** The Go/sumdb verifier key string `<name>+<hex key ID>+<base64(0x01 || pub)>`, for tools that take one. */
export function noteVerifierKey(name: string, publicKey: Uint8Array, hash: Sha256 = sha256): string {
  return `${name}+${toHex(noteKeyId(name, publicKey, hash))}+${toBase64(concatBytes(new Uint8Array([NOTE_ED25519_TYPE]), publicKey))}`;
}

export interface CheckpointBody {
  origin: string;
  /** Number of leaves in the log. */
  size: number;
  /** RFC 6962 root at `size` (32 bytes). */
  rootHash: Uint8Array;
  /** Extension lines, each non-empty. */
  extensions: string[];
}

/** The tlog-checkpoint note text (ends in a newline; the blank line before signatures is not part of it). */
export function checkpointNoteText(c: CheckpointBody): string {
  if (!isValidKeyName(c.origin)) fail('invalid_request', 'checkpoint origin must be non-empty without spaces or "+"', { origin: c.origin });
  if (!Number.isSafeInteger(c.size) || c.size < 0) fail('invalid_range', 'tree size must be a non-negative integer', { size: c.size });
  if (c.rootHash.length !== 32) fail('invalid_length', 'root hash must be 32 bytes', { got: c.rootHash.length });
  for (const line of c.extensions) {
    if (line.length === 0 || line.includes('\n') || hasControl(line)) fail('invalid_request', 'extension lines must be non-empty single lines', { line });
  }
  return [c.origin, String(c.size), toBase64(c.rootHash), ...c.extensions].join('\n') + '\n';
}

/** Parses a tlog-checkpoint note text (strict: canonical size, 32-byte base64 root). */
export function parseCheckpointText(text: string): CheckpointBody {
  if (!text.endsWith('\n')) fail('invalid_request', 'checkpoint text must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail('invalid_request', 'checkpoint text needs origin, size and root hash lines', { lines: lines.length });
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (!isValidKeyName(origin)) fail('invalid_request', 'checkpoint origin line is not a valid name', { origin });
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    fail('invalid_request', 'tree size line is not a canonical decimal', { got: sizeLine });
  }
  const rootHash = fromBase64(rootLine);
  if (rootHash === null || rootHash.length !== 32 || toBase64(rootHash) !== rootLine) {
    fail('invalid_request', 'root hash line is not the base64 of 32 bytes', { got: rootLine });
  }
  if (extensions.some((l) => l.length === 0)) fail('invalid_request', 'extension lines must be non-empty');
  return { origin, size: Number(sizeLine), rootHash, extensions };
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  /** The signature bytes after the key ID. */
  sig: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, ending in a newline. */
  text: string;
  signatures: NoteSignature[];
}

/** `— <name> <base64(keyId || sig)>\n` */
export function noteSignatureLine(name: string, keyId: Uint8Array, sig: Uint8Array): string {
  if (!isValidKeyName(name)) fail('invalid_request', 'note key name must be non-empty without spaces or "+"', { name });
  if (keyId.length !== 4) fail('invalid_length', 'key ID must be 4 bytes', { got: keyId.length });
  return `${EM_DASH_PREFIX}${name} ${toBase64(concatBytes(keyId, sig))}\n`;
}

/** Text, blank line, signature lines. */
export function assembleNote(text: string, signatureLines: readonly string[]): string {
  if (!text.endsWith('\n')) fail('invalid_request', 'note text must end in a newline');
  if (signatureLines.length === 0) fail('invalid_request', 'a signed note needs at least one signature');
  return `${text}\n${signatureLines.join('')}`;
}

/** Splits a signed note at its last blank line and parses the signature lines (throws `invalid_request`). */
export function parseNote(note: string): ParsedNote {
  if (typeof note !== 'string') fail('invalid_request', 'note must be a string');
  if (hasControl(note)) fail('invalid_request', 'note contains control characters other than newline');
  if (!note.endsWith('\n')) fail('invalid_request', 'note must end in a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail('invalid_request', 'note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split('\n');
  if (sigLines.length > MAX_SIGNATURES) fail('invalid_request', 'note has too many signatures', { got: sigLines.length });
  const signatures = sigLines.map((line) => {
    if (!line.startsWith(EM_DASH_PREFIX)) fail('invalid_request', 'signature line does not start with an em dash and a space', { line });
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    if (space <= 0 || !isValidKeyName(name)) fail('invalid_request', 'signature line has no valid key name', { line });
    const bytes = fromBase64(b64);
    if (bytes === null || bytes.length < 5 || toBase64(bytes) !== b64) fail('invalid_request', 'signature is not canonical base64 of key ID and signature', { line });
    return { name, keyId: bytes.slice(0, 4), sig: bytes.slice(4) };
  });
  return { text, signatures };
}

/**
 * Opens a note with one trusted Ed25519 key (C2SP rules): signatures by other keys (another name
 * or key ID) are ignored; a signature by the trusted key must verify (strict RFC 8032), and at
 * least one must be there. Throws `bad_signature` / `invalid_request` naming what failed.
 */
export function verifyNote(note: string, key: { name: string; publicKey: Uint8Array }, hash: Sha256 = sha256): ParsedNote {
  const parsed = parseNote(note);
  const id = noteKeyId(key.name, key.publicKey, hash);
  const mine = parsed.signatures.filter((s) => s.name === key.name && bytesEqual(s.keyId, id));
  if (mine.length === 0) {
    fail('bad_signature', `the note carries no signature by ${key.name}+${toHex(id)}`, {
      expected: `${key.name}+${toHex(id)}`,
      got: parsed.signatures.map((s) => `${s.name}+${toHex(s.keyId)}`),
    });
  }
  const msg = utf8(parsed.text);
  for (const s of mine) {
    let ok = false;
    try {
      ok = s.sig.length === 64 && ed25519.verify(s.sig, msg, key.publicKey, { zip215: false });
    } catch {
      ok = false;
    }
    if (!ok) fail('bad_signature', `the note signature by ${key.name}+${toHex(id)} does not verify`, { key: key.name });
  }
  return parsed;
}

// ---- base64 (RFC 4648 §4, padded), without runtime helpers so the core stays portable ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += B64[a >> 2]! + B64[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? '=' : B64[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? '=' : B64[c & 63]!;
  }
  return out;
}

/** Decodes padded standard base64; null when malformed. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const q = [0, 1, 2, 3].map((k) => {
      const ch = s[i + k]!;
      if (ch === '=' && i + 4 === s.length && k >= 4 - pad) return 0;
      const v = B64_INDEX.get(ch);
      return v === undefined ? -1 : v;
    });
    if (q.some((v) => v < 0)) return null;
    const n = (q[0]! << 18) | (q[1]! << 12) | (q[2]! << 6) | q[3]!;
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
