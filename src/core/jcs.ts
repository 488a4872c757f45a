import canonicalize from 'canonicalize';
import { fail } from './errors.ts';
import { utf8 } from './hex.ts';
import { wellFormed } from './well-formed.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/**
 * RFC 8785 canonical JSON. Refuses what JSON cannot carry (undefined, functions, NaN, ±Infinity,
 * bigint, lone surrogates) instead of letting the library silently drop or coerce it: a hash over
 * a value must be a hash over exactly that value.
 */
export function jcs(value: unknown): string {
  // The quick check runs on every value; the one that names where a value fails only on failure.
  if (!isJson(value, 0)) assertJson(value, '$', 0);
  const out = canonicalize(value);
  if (out === undefined) fail('invalid_json', 'value is not representable as JSON');
  return out;
}

export function jcsBytes(value: unknown): Uint8Array {
  return utf8(jcs(value));
}

const MAX_DEPTH = 64;

/** Whether `v` is a JSON value `assertJson` accepts; builds no path strings and allocates little. */
function isJson(v: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  switch (typeof v) {
    case 'string':
      return wellFormed(v);
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isJson(v[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!wellFormed(k) || !isJson(o[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** Throws the error that says where and why `v` is not JSON (the slow twin of `isJson`). */
function assertJson(v: unknown, at: string, depth: number): void {
  if (depth > MAX_DEPTH) fail('invalid_json', `JSON nested deeper than ${MAX_DEPTH}`, { at });
  switch (typeof v) {
    case 'string':
      if (!wellFormed(v)) fail('invalid_json', 'string holds a lone UTF-16 surrogate', { at });
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) fail('invalid_json', 'number is not finite', { at });
      return;
    case 'object': {
      if (v === null) return;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) assertJson(v[i], `${at}[${i}]`, depth + 1);
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) fail('invalid_json', 'only plain objects are JSON', { at });
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (!wellFormed(k)) fail('invalid_json', 'object key holds a lone UTF-16 surrogate', { at });
        assertJson(x, `${at}.${k}`, depth + 1);
      }
      return;
    }
    default:
      fail('invalid_json', `${typeof v} is not a JSON value`, { at });
  }
}

/** Typed protocol objects (headers, requests) are JSON by construction; this states it to the compiler. */
export function asJson(v: object): JsonValue {
  return v as unknown as JsonValue;
}
