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
  // One walk checks the value and whether every object's keys already come in RFC 8785 order.
  // If they do, JSON.stringify writes exactly the canonical form: RFC 8785 takes its string and
  // number serialization from ECMAScript's JSON.stringify, so key order is the only difference,
  // and JSON.stringify emits keys in Object.keys order. The library sorts when they do not.
  const shape = jsonShape(value, 0);
  if (shape === SORTED) return JSON.stringify(value);
  if (shape === NOT_JSON) assertJson(value, '$', 0);
  const out = canonicalize(value);
  if (out === undefined) fail('invalid_json', 'value is not representable as JSON');
  return out;
}

export function jcsBytes(value: unknown): Uint8Array {
  return utf8(jcs(value));
}

const MAX_DEPTH = 64;

const NOT_JSON = 0;
const SORTED = 1;
const UNSORTED = 2;

/**
 * Whether `v` is a JSON value `assertJson` accepts (NOT_JSON if not), and if so whether every
 * object in it lists its keys in strictly ascending UTF-16 code unit order (SORTED), which is
 * what JS string comparison compares. Builds no path strings and allocates little.
 */
function jsonShape(v: unknown, depth: number): number {
  if (depth > MAX_DEPTH) return NOT_JSON;
  switch (typeof v) {
    case 'string':
      return wellFormed(v) ? SORTED : NOT_JSON;
    case 'boolean':
      return SORTED;
    case 'number':
      return Number.isFinite(v) ? SORTED : NOT_JSON;
    case 'object': {
      if (v === null) return SORTED;
      let shape = SORTED;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const s = jsonShape(v[i], depth + 1);
          if (s === NOT_JSON) return NOT_JSON;
          if (s === UNSORTED) shape = UNSORTED;
        }
        return shape;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return NOT_JSON;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (!wellFormed(k)) return NOT_JSON;
        if (i > 0 && !(keys[i - 1]! < k)) shape = UNSORTED;
        const s = jsonShape(o[k], depth + 1);
        if (s === NOT_JSON) return NOT_JSON;
        if (s === UNSORTED) shape = UNSORTED;
      }
      return shape;
    }
    default:
      return NOT_JSON;
  }
}

/** Throws the error that says where and why `v` is not JSON (the slow twin of `jsonShape`). */
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
