import { fail } from './errors.ts';

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const BYTE_HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex, no `0x` (SPEC §1). */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i]!];
  return out;
}

/** Strict decoder: lowercase only, even length, optional exact byte length. */
export function fromHex(hex: string, expectedBytes?: number, what = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) fail('invalid_hex', `${what} must be lowercase hex without 0x`);
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    fail('invalid_length', `${what} must be ${expectedBytes} bytes (${expectedBytes * 2} hex characters)`, {
      expected: expectedBytes,
      got: hex.length / 2,
    });
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function isHex32(s: unknown): s is string {
  return typeof s === 'string' && s.length === 64 && HEX_RE.test(s);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
