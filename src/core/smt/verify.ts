import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { DstpError } from '../errors.ts';
import type { Sha256 } from '../hash.ts';
import { toHex, utf8 } from '../hex.ts';
import { jcsBytes, type JsonValue } from '../jcs.ts';
import { wellFormed } from '../well-formed.ts';
import type { Proof } from './types.ts';

/**
 * Stand-alone verifier for SPEC §4 proofs. It re-implements the few hashing rules on purpose and
 * shares no code with the tree that wrote the proof, so a bug in the writer cannot hide itself by
 * agreeing with its own verifier. Depends only on @noble/hashes and the core hex/jcs/errors and
 * well-formed-string check, none of which is a hashing rule.
 */

export interface ProofExpectation {
  key: string;
  /** The value the key must hold. Leave out (and `valueHash` too) to require absence. */
  value?: JsonValue;
  /** Alternative to `value` for callers that hold only `H(jcs(value))` (hex). */
  valueHash?: string;
  /** The root the caller trusts (hex); when given, the proof must be against it. */
  root?: string;
}

const MAX_SIBLINGS = 256;
const HEX32 = /^[0-9a-f]{64}$/;

/** Throws DstpError('invalid_proof') naming the failed check, with expected/got evidence. */
export function verifyProof(proof: Proof, expected: ProofExpectation, hash: Sha256 = nobleSha256): void {
  const shape = checkShape(proof);
  if (typeof expected.key !== 'string') reject('expected key must be a string');
  if (shape.key !== expected.key) reject('proof is for another key', { expected: expected.key, got: shape.key });
  if (expected.root !== undefined && shape.root !== expected.root) {
    reject('root mismatch: the proof is against another root', { expected: expected.root, got: shape.root });
  }
  if (!wellFormed(expected.key)) reject('key holds a lone UTF-16 surrogate');

  const path = hash(utf8(expected.key));
  const depth = shape.siblings.length;
  const wantsValue = expected.value !== undefined || expected.valueHash !== undefined;

  if (wantsValue) {
    if (shape.leaf === null) reject('expected the key to be present, but the proof shows an empty slot');
    const leafPath = hex32Bytes(shape.leaf.path);
    if (!sameBytes(leafPath, path)) {
      reject('wrong key path: the leaf is not at path(key)', { expected: toHex(path), got: shape.leaf.path });
    }
    const want = expected.value !== undefined ? toHex(hash(jcsBytes(expected.value))) : expected.valueHash!;
    if (expected.value !== undefined && expected.valueHash !== undefined && want !== expected.valueHash) {
      reject('expected value and expected valueHash disagree', { value: want, valueHash: expected.valueHash });
    }
    if (shape.leaf.valueHash !== want) reject('value hash mismatch', { expected: want, got: shape.leaf.valueHash });
  } else if (shape.leaf !== null) {
    const leafPath = hex32Bytes(shape.leaf.path);
    if (sameBytes(leafPath, path)) reject('expected absence, but the proof shows the key present', { path: shape.leaf.path });
    const firstDiff = firstDifferentBit(leafPath, path);
    if (firstDiff < depth) {
      reject('exclusion leaf does not share the prefix of path(key)', { depth, divergesAtBit: firstDiff });
    }
  }

  // Fold from the leaf (or empty slot) up to the root, reusing one preimage buffer.
  const buf = new Uint8Array(65);
  let h: Uint8Array;
  if (shape.leaf === null) h = new Uint8Array(32);
  else {
    buf[0] = 0x00;
    buf.set(hex32Bytes(shape.leaf.path), 1);
    buf.set(hex32Bytes(shape.leaf.valueHash), 33);
    h = hash(buf);
  }
  buf[0] = 0x01;
  for (let j = 0; j < depth; j++) {
    const sibling = hex32Bytes(shape.siblings[j]!);
    const onRight = bit(path, depth - 1 - j) === 1;
    buf.set(onRight ? sibling : h, 1);
    buf.set(onRight ? h : sibling, 33);
    h = hash(buf);
  }
  if (!sameBytes(h, hex32Bytes(shape.root))) {
    reject('root mismatch: the siblings do not fold to the proof root', { expected: shape.root, got: toHex(h) });
  }
}

/** Boolean form of `verifyProof` for callers that only branch on the outcome. */
export function isValidProof(proof: Proof, expected: ProofExpectation, hash: Sha256 = nobleSha256): boolean {
  try {
    verifyProof(proof, expected, hash);
    return true;
  } catch (e) {
    if (e instanceof DstpError) return false;
    throw e;
  }
}

function reject(message: string, details?: Record<string, unknown>): never {
  throw new DstpError('invalid_proof', message, details);
}

/** Checks the JSON shape before any hashing; malformed input fails with the field it concerns. */
function checkShape(proof: unknown): Proof {
  if (typeof proof !== 'object' || proof === null) reject('malformed proof: not an object');
  const p = proof as Record<string, unknown>;
  if (typeof p.key !== 'string') reject('malformed proof: key must be a string');
  hex32(p.root, 'root');
  if (!Array.isArray(p.siblings)) reject('malformed proof: siblings must be an array');
  if (p.siblings.length > MAX_SIBLINGS) {
    reject(`too many siblings: ${p.siblings.length} > ${MAX_SIBLINGS}`, { got: p.siblings.length });
  }
  p.siblings.forEach((s, i) => hex32(s, `siblings[${i}]`));
  if (p.leaf !== null) {
    if (typeof p.leaf !== 'object' || p.leaf === undefined) reject('malformed proof: leaf must be an object or null');
    const leaf = p.leaf as Record<string, unknown>;
    hex32(leaf.path, 'leaf.path');
    hex32(leaf.valueHash, 'leaf.valueHash');
  }
  return proof as Proof;
}

function hex32(v: unknown, field: string): void {
  if (typeof v !== 'string' || !HEX32.test(v)) {
    reject(`malformed hex: ${field} must be 64 lowercase hex characters`, { field });
  }
}

/** Decodes 64 lowercase hex characters already checked by `hex32`. */
function hex32Bytes(h: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (nibble(h.charCodeAt(2 * i)) << 4) | nibble(h.charCodeAt(2 * i + 1));
  return out;
}

function nibble(c: number): number {
  return c <= 57 ? c - 48 : c - 87; // '0'-'9', 'a'-'f'
}

function bit(path: Uint8Array, i: number): number {
  return (path[i >> 3]! >> (7 - (i & 7))) & 1;
}

function firstDifferentBit(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 256; i++) if (bit(a, i) !== bit(b, i)) return i;
  return 256;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
