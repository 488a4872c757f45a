import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { Hono } from 'hono';
import { jsonBody } from '../../src/api/middleware/json-body.ts';

/**
 * The body check's one-pass scan for repeated object keys, against a reference that walks the
 * same document as a tree: the same first repeated key (in document order, compared after
 * unescaping) and JSON path, however the body is cut into chunks as it streams in (cuts inside
 * multi-byte characters, escapes and keys included). Bodies without one pass through unchanged.
 */

type Node = { obj: [string, Node][] } | { arr: Node[] } | { lit: string };

/** Raw spellings of keys: several spell one key (`a`, `\u0061`), some are not ASCII. */
const KEY_SPELLINGS = ['"a"', '"\\u0061"', '"b"', '"é"', '"\\u00e9"', '"😀"', '"\\ud83d\\ude00"', '"a\\"b"', '"a\\\\"', '"tx"', '"t\\u0078"', '""'];
const LITERALS = ['1', '-2.5e3', 'true', 'null', '"x"', '"q\\"uote\\\\"', '"ü😀"', '"{[,:]}"', '"\\\\"'];

const node: fc.Memo<Node> = fc.memo((n) =>
  n <= 1
    ? fc.constantFrom(...LITERALS).map((lit) => ({ lit }))
    : fc.oneof(
        fc.constantFrom(...LITERALS).map((lit) => ({ lit })),
        fc.array(fc.tuple(fc.constantFrom(...KEY_SPELLINGS), node(n - 1)), { maxLength: 12 }).map((obj) => ({ obj })),
        fc.array(node(n - 1), { maxLength: 5 }).map((arr) => ({ arr })),
      ),
);

function text(n: Node): string {
  if ('lit' in n) return n.lit;
  if ('arr' in n) return `[${n.arr.map(text).join(', ')}]`;
  return `{${n.obj.map(([k, v]) => `${k} : ${text(v)}`).join(',')}}`;
}

/** The first key repeated in one object, in document order, with its path as `$.a[0].b`. */
function firstRepeat(n: Node, path = '$'): { key: string; at: string } | null {
  if ('lit' in n) return null;
  if ('arr' in n) {
    for (const [i, v] of n.arr.entries()) {
      const r = firstRepeat(v, `${path}[${i}]`);
      if (r) return r;
    }
    return null;
  }
  const seen = new Set<string>();
  for (const [spelling, v] of n.obj) {
    const key = JSON.parse(spelling) as string;
    if (seen.has(key)) return { key, at: `${path}.${key}` };
    seen.add(key);
    const r = firstRepeat(v, `${path}.${key}`);
    if (r) return r;
  }
  return null;
}

const app = new Hono();
app.use('*', jsonBody(() => 1 << 20, { debug() {} }));
app.post('/echo', async (c) => c.json({ body: await c.req.json() }));

function streamed(bytes: Uint8Array, cuts: number[]): Request {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    chunks.push(bytes.slice(from, c));
    from = c;
  }
  const body = new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const ch of chunks) ctl.enqueue(ch);
      ctl.close();
    },
  });
  return new Request('http://node/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
}

describe('duplicate keys, found while the body streams in', () => {
  test('same answer as the tree walk, for any document and any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(node(5), fc.array(fc.nat(), { maxLength: 8 }), async (doc, cuts) => {
        const src = text(doc);
        const res = await app.fetch(streamed(new TextEncoder().encode(src), cuts));
        const want = firstRepeat(doc);
        if (want) {
          expect(res.status).toBe(400);
          const p = (await res.json()) as { code: string; key: string; at: string };
          expect({ code: p.code, key: p.key, at: p.at }).toEqual({ code: 'duplicate_key', ...want });
        } else {
          expect(res.status).toBe(200);
          expect(((await res.json()) as { body: unknown }).body).toEqual(JSON.parse(src));
        }
      }),
      { numRuns: 600 },
    );
  });

  test('a key split inside a multi-byte character and inside an escape is still one key', async () => {
    const src = '{"é😀":1,"\\u00e9\\ud83d\\ude00":2}';
    const bytes = new TextEncoder().encode(src);
    for (let cut = 1; cut < bytes.length; cut++) {
      const res = await app.fetch(streamed(bytes, [cut, cut + 1]));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { key: string }).key).toBe('é😀');
    }
  });

  test('keys of big objects (past the linear scan) and long keys', async () => {
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    const big = `{${keys.map((k) => `"${k}":0`).join(',')}}`;
    expect((await app.fetch(streamed(new TextEncoder().encode(big), [7, 900]))).status).toBe(200);
    const again = `{${[...keys, 'k250'].map((k) => `"${k}":0`).join(',')}}`;
    const r = await app.fetch(streamed(new TextEncoder().encode(again), [3000]));
    expect(((await r.json()) as { at: string }).at).toBe('$.k250');
    const long = 'z'.repeat(5000);
    const r2 = await app.fetch(streamed(new TextEncoder().encode(`{"${long}":1,"x":[{"${long}":2,"${long}":3}]}`), [10, 4000, 7000]));
    expect(((await r2.json()) as { at: string }).at).toBe(`$.x[0].${long}`);
  });
});
