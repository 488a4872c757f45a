import type { Context, MiddlewareHandler } from 'hono';
import { visit } from 'jsonc-parser';
import { readCapped } from '../../platform/read-capped.ts';
import { problem } from '../problem.ts';

/**
 * Bodies nest at most this deep. Values inside a transaction may nest 64 levels (core/jcs.ts);
 * the envelope (`{txs:[{tx:{args:…}}]}`) adds a few more.
 */
export const MAX_BODY_DEPTH = 80;
/**
 * Bodies hold at most this many JSON values (counted as objects, arrays and commas). A full
 * batch of 1000 transfers holds about 15,000; the bound keeps what parsing builds to a few MB
 * whatever the body's shape (4 MiB of `[{},{},…]` would otherwise become a million objects).
 */
export const MAX_BODY_VALUES = 100_000;

const BRACKET_OPEN = new Uint8Array(256);
BRACKET_OPEN['['.charCodeAt(0)] = 1;
BRACKET_OPEN['{'.charCodeAt(0)] = 1;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_SQUARE = 0x5d;
const CLOSE_CURLY = 0x7d;
const COMMA = 0x2c;

/**
 * Reads a request body once, before anything parses it: size, nesting and the number of values
 * are checked chunk by chunk while it streams in (so a 4 MiB body of nested arrays costs 4 MiB,
 * never the hundreds of MB that building it would), then UTF-8 and duplicate object keys. The checked text is handed
 * to hono's body cache, where the route's JSON validator parses it once.
 */
export function jsonBody(limitFor: (path: string) => number, log: { debug(m: string, d?: Record<string, unknown>): void }): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (body === null || !hasBody(c.req.method)) return next();
    const limit = limitFor(c.req.path);
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > limit) return tooLarge(c, limit);

    const scan = new ShapeScan();
    const read = await readCapped(body, limit, (chunk) => scan.feed(chunk));
    if (read.kind === 'aborted') {
      // The client went away mid-body: its failure, not the node's; no stack, no error line.
      log.debug('request body aborted by the client', { path: c.req.path, error: read.error });
      return problem(c, 'request_aborted', 'the request body ended early');
    }
    if (read.kind === 'too_large') return tooLarge(c, limit);
    if (read.kind === 'too_deep') {
      return problem(c, 'too_deeply_nested', `the body nests deeper than ${MAX_BODY_DEPTH} levels`, { limit: MAX_BODY_DEPTH });
    }
    if (read.kind === 'too_many') {
      return problem(c, 'too_many_values', `the body holds more than ${MAX_BODY_VALUES} JSON values`, { limit: MAX_BODY_VALUES });
    }
    let text: string;
    try {
      text = UTF8.decode(read.bytes);
    } catch {
      return problem(c, 'malformed_json', 'the body is not valid UTF-8');
    }
    const dup = duplicateKey(text);
    if (dup) {
      return problem(c, 'duplicate_key', `the body has the key "${dup.key}" twice in one object at ${dup.at}`, dup);
    }
    // Hono keeps body promises in this cache (its type says string); json() parses this text.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    return next();
  };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hasBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';
}

function tooLarge(c: Context, limit: number): Response {
  return problem(c, 'payload_too_large', `request body exceeds ${limit} bytes`, { limit });
}

/**
 * Nesting depth and value count of JSON bytes as they arrive. Brackets, commas and quotes are
 * ASCII and never part of a multi-byte UTF-8 sequence, so scanning bytes is exact; only string
 * contents need skipping. Malformed input is left for the parser to refuse: this only bounds what
 * parsing it could build.
 */
class ShapeScan {
  private depth = 0;
  private values = 0;
  private inString = false;
  private escaped = false;

  feed(bytes: Uint8Array): 'too_deep' | 'too_many' | null {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
      } else if (b === QUOTE) {
        this.inString = true;
      } else if (BRACKET_OPEN[b]) {
        if (++this.depth > MAX_BODY_DEPTH) return 'too_deep';
        if (++this.values > MAX_BODY_VALUES) return 'too_many';
      } else if (b === COMMA) {
        if (++this.values > MAX_BODY_VALUES) return 'too_many';
      } else if (b === CLOSE_SQUARE || b === CLOSE_CURLY) {
        this.depth--;
      }
    }
    return null;
  }
}

/**
 * The first object key that appears twice in one object, with its JSON path. `JSON.parse` keeps
 * the last one silently, so a reader that takes the first would see another request than the
 * one executed. Keys compare after unescaping (`"a"` and `"\u0061"` are the same key).
 */
function duplicateKey(text: string): { key: string; at: string } | null {
  const open: Set<string>[] = [];
  let found: { key: string; at: string } | null = null;
  visit(
    text,
    {
      onObjectBegin: () => {
        if (found) return false;
        open.push(new Set());
      },
      onObjectEnd: () => {
        open.pop();
      },
      onObjectProperty: (key, _offset, _length, _line, _char, path) => {
        const keys = open[open.length - 1];
        if (!keys || found) return;
        if (keys.has(key)) found = { key, at: jsonPath([...path(), key]) };
        else keys.add(key);
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return found;
}

function jsonPath(path: (string | number)[]): string {
  let out = '$';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${p}`;
  return out;
}
