import { fail } from '../errors.ts';
import { sha256, type Hash32, type Sha256 } from '../hash.ts';
import { utf8 } from '../hex.ts';
import { wellFormed } from '../well-formed.ts';
import { isZero32 } from './words.ts';

/**
 * The hashing rules of SPEC §4, shared by the writer (tree.ts) and the proof producers. The
 * stand-alone verifier (verify.ts) deliberately re-implements them instead of importing this file.
 *
 * A node's stored bytes are its hash preimage: 65 bytes, a one-byte domain tag and two 32-byte
 * halves. The tag keeps a leaf from ever being read as an inner node and vice versa.
 */
export const LEAF_TAG = 0x00;
export const INNER_TAG = 0x01;
export const NODE_BYTES = 65;
/** Paths have 256 bits: no inner node sits at depth 256. */
export const MAX_DEPTH_BITS = 256;

/** `path(k) = H(utf8(k))`. Refuses strings with lone surrogates: utf8() would map them to U+FFFD and two keys would share a path. */
export function pathOf(key: string, hash: Sha256 = sha256): Hash32 {
  return hash(utf8(checkedKey(key)));
}

/** Bit `i` of a path, most significant bit of each byte first; 0 chooses the left child. */
export function bitAt(path: Uint8Array, i: number): number {
  return (path[i >>> 3]! >>> (7 - (i & 7))) & 1;
}

export function isEmptyHash(h: Uint8Array): boolean {
  return isZero32(h, 0);
}

export function checkedKey(key: string): string {
  if (typeof key !== 'string') fail('invalid_state_key', 'state key must be a string');
  if (!wellFormed(key)) {
    fail('invalid_state_key', 'state key holds a lone UTF-16 surrogate', { length: key.length });
  }
  return key;
}

const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const s = i.toString(16).padStart(2, '0');
  HEX_CODES[2 * i] = s.charCodeAt(0);
  HEX_CODES[2 * i + 1] = s.charCodeAt(1);
}
const hexScratch = new Uint8Array(64);
const asciiDecoder = new TextDecoder();

/**
 * Lowercase hex of the 32 bytes at buf[off..]. Proofs carry many hashes: decoding a buffer of hex
 * digits yields a flat string several times faster than concatenating two-character pieces.
 */
export function hex32(buf: Uint8Array, off = 0): string {
  for (let i = 0; i < 32; i++) {
    const v = buf[off + i]!;
    hexScratch[2 * i] = HEX_CODES[2 * v]!;
    hexScratch[2 * i + 1] = HEX_CODES[2 * v + 1]!;
  }
  return asciiDecoder.decode(hexScratch);
}
