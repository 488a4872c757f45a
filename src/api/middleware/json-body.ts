import type { Context, MiddlewareHandler } from 'hono';
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
const OPEN_CURLY = 0x7b;
const BACKSLASH = 0x5c;
const CLOSE_SQUARE = 0x5d;
const CLOSE_CURLY = 0x7d;
const COMMA = 0x2c;

/**
 * Reads a request body once, before anything parses it: size, nesting and the number of values
 * are checked chunk by chunk while it streams in (so a 4 MiB body of nested arrays costs 4 MiB,
 * never the hundreds of MB that building it would), and repeated object keys are found in the
 * same pass; then UTF-8. The checked text is handed to hono's body cache, where the route's JSON
 * validator parses it once.
 */
export function jsonBody(limitFor: (path: string) => number, log: { debug(m: string, d?: Record<string, unknown>): void }): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (body === null || !hasBody(c.req.method)) return next();
    const limit = limitFor(c.req.path);
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > limit) return tooLarge(c, limit);

    const read = await readChecked(body, limit);
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
    const dup = read.duplicate;
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

type Read =
  | { kind: 'ok'; bytes: Uint8Array; duplicate: Duplicate | null }
  | { kind: 'too_large' }
  | { kind: 'too_deep' }
  | { kind: 'too_many' }
  | { kind: 'aborted'; error: string };

async function readChecked(stream: ReadableStream<Uint8Array>, limit: number): Promise<Read> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  const scan = new ShapeScan();
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) return stop(reader, { kind: 'too_large' });
      const shape = scan.feed(value);
      if (shape !== null) return stop(reader, { kind: shape });
      chunks.push(value);
    }
  } catch (err) {
    return { kind: 'aborted', error: err instanceof Error ? err.message : String(err) };
  }
  if (chunks.length === 1) return { kind: 'ok', bytes: chunks[0]!, duplicate: scan.duplicate };
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const ch of chunks) {
    bytes.set(ch, at);
    at += ch.byteLength;
  }
  return { kind: 'ok', bytes, duplicate: scan.duplicate };
}

function stop(reader: ReadableStreamDefaultReader<Uint8Array>, out: Read): Read {
  reader.cancel().catch(() => {});
  return out;
}

type Duplicate = {
  key: string;
  at: string;
};

/** An open object or array, and how its parent names it (key or index; the root has none). */
interface Frame {
  object: boolean;
  name: string | number | null;
  /** Objects: the keys seen so far (an array while few, then a Set) and the latest one. */
  keys: string[] | Set<string> | null;
  key: string;
  /** Arrays: the index of the current element. */
  index: number;
}

interface KeyParts {
  bytes: Uint8Array[];
  from: number[];
  to: number[];
}

/** Keys per object compared by a linear scan up to this many, then through a Set. */
const FEW_KEYS = 8;
const KEY_TEXT = new TextDecoder('utf-8');

/**
 * One pass over JSON bytes as they arrive: nesting depth, value count, and the first object key
 * that appears twice in one object (with its JSON path). `JSON.parse` keeps the last of two equal
 * keys silently, so a reader that takes the first would see another request than the one
 * executed; keys compare after unescaping (`"a"` and `"\u0061"` are the same key). Brackets,
 * commas, colons and quotes are ASCII and never part of a multi-byte UTF-8 sequence, so scanning
 * bytes is exact; only string contents need skipping. Malformed input is left for the parser to
 * refuse: this only bounds what parsing it could build and finds repeated keys in valid JSON.
 */
class ShapeScan {
  private depth = 0;
  private values = 0;
  private inString = false;
  private escaped = false;
  private readonly frames: Frame[] = [];
  /** The next string opens a key (just after `{` or after a `,` inside an object). */
  private expectKey = false;
  /** The key being read: where its bytes are (a range of each chunk it spans) and whether it has escapes. */
  private key: KeyParts | null = null;
  private keyEscaped = false;
  duplicate: Duplicate | null = null;

  feed(bytes: Uint8Array): 'too_deep' | 'too_many' | null {
    let i = 0;
    if (this.inString) {
      // A string (maybe a key) left open by the previous chunk.
      const end = bytes.length === 0 ? -1 : this.stringEnd(bytes, 0);
      if (end < 0) return null;
      i = end + 1;
    }
    for (; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === QUOTE) {
        this.inString = true;
        if (this.expectKey) {
          this.expectKey = false;
          if (this.duplicate === null) {
            this.key = { bytes: [], from: [], to: [] };
            this.keyEscaped = false;
          }
        }
        const end = this.stringEnd(bytes, i + 1);
        if (end < 0) return null;
        i = end;
      } else if (BRACKET_OPEN[b]) {
        if (++this.depth > MAX_BODY_DEPTH) return 'too_deep';
        if (++this.values > MAX_BODY_VALUES) return 'too_many';
        const parent = this.frames[this.frames.length - 1];
        const name = parent === undefined ? null : parent.object ? parent.key : parent.index;
        this.frames.push({ object: b === OPEN_CURLY, name, keys: null, key: '', index: 0 });
        this.expectKey = b === OPEN_CURLY;
      } else if (b === COMMA) {
        if (++this.values > MAX_BODY_VALUES) return 'too_many';
        const top = this.frames[this.frames.length - 1];
        if (top?.object) this.expectKey = true;
        else if (top) top.index++;
      } else if (b === CLOSE_SQUARE || b === CLOSE_CURLY) {
        this.depth--;
        this.frames.pop();
        this.expectKey = false;
      }
    }
    return null;
  }

  /**
   * Skips the rest of the string that is open at `from` (native search for its closing quote;
   * an odd run of backslashes before a quote escapes it). Returns the closing quote's index, or
   * -1 when the string goes on in the next chunk. A key's bytes are kept until its end.
   */
  private stringEnd(bytes: Uint8Array, from: number): number {
    let j = from;
    if (this.escaped) {
      this.escaped = false;
      j++;
    }
    for (;;) {
      const q = bytes.indexOf(QUOTE, j);
      const stop = q < 0 ? bytes.length : q;
      let k = stop - 1;
      while (k >= j && bytes[k] === BACKSLASH) k--;
      const odd = (stop - 1 - k) % 2 === 1;
      if (q < 0) {
        this.escaped = odd;
        if (this.key) this.keyPart(bytes, from, bytes.length);
        return -1;
      }
      if (!odd) {
        this.inString = false;
        if (this.key) {
          this.keyPart(bytes, from, q);
          this.endKey();
        }
        return q;
      }
      j = q + 1;
    }
  }

  private keyPart(bytes: Uint8Array, from: number, to: number): void {
    const k = this.key!;
    k.bytes.push(bytes);
    k.from.push(from);
    k.to.push(to);
    const at = bytes.indexOf(BACKSLASH, from);
    if (at >= 0 && at < to) this.keyEscaped = true;
  }

  private endKey(): void {
    const parts = this.key!;
    this.key = null;
    const top = this.frames[this.frames.length - 1];
    if (!top?.object) return;
    const key = keyText(parts, this.keyEscaped);
    if (key === null) return; // a malformed escape: the parser refuses the body
    top.key = key;
    const keys = top.keys;
    let seen: boolean;
    if (keys === null) {
      top.keys = [key];
      return;
    } else if (Array.isArray(keys)) {
      seen = keys.includes(key);
      if (!seen) {
        if (keys.length < FEW_KEYS) keys.push(key);
        else top.keys = new Set([...keys, key]);
      }
    } else {
      seen = keys.has(key);
      keys.add(key);
    }
    if (seen) this.duplicate = { key, at: jsonPath(this.frames, key) };
  }
}

/** A key's text: its raw bytes decoded (short ASCII keys, the usual ones, without a decoder), then its escapes resolved as JSON does. */
function keyText(parts: KeyParts, escaped: boolean): string | null {
  let raw = parts.bytes.length === 1 ? shortAscii(parts.bytes[0]!, parts.from[0]!, parts.to[0]!) : null;
  if (raw === null) {
    raw = '';
    for (let i = 0; i < parts.bytes.length; i++) raw += KEY_TEXT.decode(parts.bytes[i]!.subarray(parts.from[i], parts.to[i]), { stream: true });
    raw += KEY_TEXT.decode();
  }
  if (!escaped) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return null;
  }
}

function shortAscii(bytes: Uint8Array, from: number, to: number): string | null {
  if (to - from > 64) return null;
  let out = '';
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) return null;
    out += String.fromCharCode(b);
  }
  return out;
}

function jsonPath(frames: readonly Frame[], key: string): string {
  let out = '$';
  for (const f of frames) if (f.name !== null) out += typeof f.name === 'number' ? `[${f.name}]` : `.${f.name}`;
  return `${out}.${key}`;
}
