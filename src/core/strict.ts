import { fail, type CoreErrorCode } from './errors.ts';

/**
 * Small structural checks shared by the strict parsers (transactions, creation requests, modes,
 * program configs). They exist so every parser rejects unknown fields the same way: a field the
 * protocol does not define is an error, never silently ignored, because signed bytes cover it.
 */
export type PlainObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is PlainObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Asserts `v` is a plain object whose own keys are exactly `required` plus any of `optional`. */
export function exactObject(
  v: unknown,
  required: readonly string[],
  code: CoreErrorCode,
  what: string,
  optional: readonly string[] = [],
): PlainObject {
  if (!isPlainObject(v)) fail(code, `${what} must be a JSON object`, { field: what });
  for (const k of Object.keys(v)) {
    if (!required.includes(k) && !optional.includes(k)) fail(code, `${what} has unknown field "${k}"`, { field: `${what}.${k}` });
  }
  for (const k of required) {
    if (!(k in v)) fail(code, `${what} lacks field "${k}"`, { field: `${what}.${k}` });
  }
  return v;
}

/** Network ids: the same rule the node's configuration applies to DSTP_NETWORK. */
export const NETWORK_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function isSafeInt(v: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/** Length in Unicode code points (what a user means by "characters"), not UTF-16 units. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
