import { describe, expect, test } from 'bun:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { DstpError } from '../../src/core/errors.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import {
  assembleNote,
  checkpointNoteText,
  fromBase64,
  noteKeyId,
  noteSignatureLine,
  noteVerifierKey,
  parseCheckpointText,
  parseNote,
  toBase64,
  verifyNote,
} from '../../src/core/note.ts';
import vectors from '../vectors/c2sp-note.json';

/** `name+hexid+base64(0x01 || key)` → parts (the Go verifier key form). */
function splitKey(k: string): { name: string; id: string; key: Uint8Array } {
  const [name, id, ...rest] = k.replace(/^PRIVATE\+KEY\+/, '').split('+') as [string, string, ...string[]];
  const b64 = rest.join('+'); // base64 may itself hold '+'
  const raw = fromBase64(b64)!;
  expect(raw[0]).toBe(0x01);
  return { name, id, key: raw.slice(1) };
}

const peter = splitKey(vectors.verifierKeys.PeterNeumann);
const enoch = splitKey(vectors.verifierKeys.EnochRoot);
const seed = splitKey(vectors.signerKey).key;

describe('C2SP signed note (known answers)', () => {
  test('key ID = SHA-256(name || 0x0A || 0x01 || key)[:4] matches the published IDs', () => {
    expect(toHex(noteKeyId(peter.name, peter.key))).toBe(peter.id);
    expect(toHex(noteKeyId(enoch.name, enoch.key))).toBe(enoch.id);
    expect(noteVerifierKey(peter.name, peter.key)).toBe(vectors.verifierKeys.PeterNeumann);
    expect(toHex(ed25519.getPublicKey(seed))).toBe(toHex(peter.key));
  });

  test('signing the text with the published seed gives the published note byte for byte', () => {
    const sig = ed25519.sign(utf8(vectors.text), seed);
    const note = assembleNote(vectors.text, [noteSignatureLine(peter.name, noteKeyId(peter.name, peter.key), sig)]);
    expect(note).toBe(vectors.signedByPeter);
  });

  test('opens with the trusted key, ignores signatures by other keys', () => {
    const both = vectors.signedByPeter + vectors.enochSignatureLine;
    expect(verifyNote(both, { name: peter.name, publicKey: peter.key }).text).toBe(vectors.text);
    expect(verifyNote(both, { name: enoch.name, publicKey: enoch.key }).signatures).toHaveLength(2);
    // Only Peter's signature: Enoch's key finds none.
    expect(() => verifyNote(vectors.signedByPeter, { name: enoch.name, publicKey: enoch.key })).toThrow(DstpError);
  });

  test('rejects an altered text, an altered signature and malformed notes', () => {
    const key = { name: peter.name, publicKey: peter.key };
    const altered = vectors.signedByPeter.replace('cryptography', 'cryptoGraphy');
    expect(() => verifyNote(altered, key)).toThrow(/does not verify/);
    const sigB64 = vectors.signedByPeter.split(' ').at(-1)!.trim();
    const bytes = fromBase64(sigB64)!;
    bytes[10]! ^= 1;
    expect(() => verifyNote(vectors.signedByPeter.replace(sigB64, toBase64(bytes)), key)).toThrow(/does not verify/);
    for (const bad of [vectors.text, vectors.text + '\n', vectors.signedByPeter.slice(0, -1), '\x01' + vectors.signedByPeter, vectors.signedByPeter + 'Unexpected line.\n']) {
      expect(() => verifyNote(bad, key)).toThrow(DstpError);
    }
  });
});

describe('tlog-checkpoint text', () => {
  const root = new Uint8Array(32).map((_, i) => i);
  test('origin, size, base64 root, extension lines; parses back', () => {
    const text = checkpointNoteText({ origin: 'example.com/log', size: 12, rootHash: root, extensions: ['dstp-global ' + 'ab'.repeat(32)] });
    expect(text).toBe(`example.com/log\n12\n${Buffer.from(root).toString('base64')}\ndstp-global ${'ab'.repeat(32)}\n`);
    const back = parseCheckpointText(text);
    expect(back.origin).toBe('example.com/log');
    expect(back.size).toBe(12);
    expect(toHex(back.rootHash)).toBe(toHex(root));
    expect(back.extensions).toEqual(['dstp-global ' + 'ab'.repeat(32)]);
  });

  test('refuses bad origins, non-canonical sizes and roots', () => {
    expect(() => checkpointNoteText({ origin: 'a b', size: 1, rootHash: root, extensions: [] })).toThrow(DstpError);
    expect(() => checkpointNoteText({ origin: 'a+b', size: 1, rootHash: root, extensions: [] })).toThrow(DstpError);
    const b64 = Buffer.from(root).toString('base64');
    expect(() => parseCheckpointText(`o\n01\n${b64}\n`)).toThrow(DstpError);
    expect(() => parseCheckpointText(`o\n1\n${b64.slice(4)}\n`)).toThrow(DstpError);
    expect(() => parseCheckpointText(`o\n1\n${b64}\n\n`)).toThrow(DstpError);
  });

  test('base64 agrees with the runtime encoder on every length', () => {
    for (let n = 0; n < 70; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 255);
      const s = Buffer.from(b).toString('base64');
      expect(toBase64(b)).toBe(s);
      expect(toHex(fromBase64(s)!)).toBe(toHex(b));
    }
    expect(fromBase64('abc')).toBeNull();
    expect(fromBase64('ab!=')).toBeNull();
  });

  test('parseNote splits at the last blank line (text may contain blank lines)', () => {
    const text = 'a\n\nb\n';
    const note = assembleNote(text, [noteSignatureLine('k', new Uint8Array(4), new Uint8Array(64))]);
    expect(parseNote(note).text).toBe(text);
  });
});
