/**
 * POST /v1/programs and GET /v1/programs/:id (SPEC §7.1) on a real node over HTTP with a libSQL
 * file: content-addressed ids, 201 then 200, the upload policy, and refused sources (bad Unicode,
 * too large, syntax errors, BigInt, a module that does not load) as problem+json with nothing stored.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../../src/core/hex.ts';
import { jcs } from '../../src/core/jcs.ts';
import { CURRENT_ENGINE } from '../../src/platform/sandbox/engines.ts';
import { ADMIN_TOKEN, startServer, type TestServer } from '../helpers/server.ts';

const counter = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'programs', 'counter.js'), 'utf8');
let node: TestServer;
let open: TestServer;

beforeAll(async () => {
  node = await startServer();
  open = await startServer({ env: { DSTP_OPEN_PROGRAMS: '1' } });
});
afterAll(async () => {
  await node?.close();
  await open?.close();
});

const post = (s: TestServer, body: string, admin = true) =>
  fetch(`${s.url}/v1/programs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) },
    body,
  });

/** The SPEC §1 digest, computed here independently of the node's code. */
const expectedId = (engine: string, source: string) => toHex(sha256(new Uint8Array([...utf8('DSTP/program/v1\n'), ...utf8(jcs({ engine, source }))])));

describe('user program upload', () => {
  test('201 with the content address, 200 when known, and GET returns the source', async () => {
    const r1 = await post(node, JSON.stringify({ source: counter }));
    expect(r1.status).toBe(201);
    const ref = (await r1.json()) as { id: string; engine: string };
    expect(ref).toEqual({ id: expectedId(CURRENT_ENGINE, counter), engine: CURRENT_ENGINE });
    const r2 = await post(node, JSON.stringify({ source: counter }));
    expect(r2.status).toBe(200);
    expect(await r2.json()).toEqual(ref);
    const g = await fetch(`${node.url}/v1/programs/${ref.id}`);
    expect(g.status).toBe(200);
    expect(await g.json()).toEqual({ ...ref, source: counter });
  }, 60_000);

  test('without the admin token: 401, unless the node is open', async () => {
    const src = 'export default { apply() { return { writes: [] }; } };';
    const r = await post(node, JSON.stringify({ source: src }), false);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { code: string }).code).toBe('unauthorized');
    expect((await fetch(`${node.url}/v1/programs/${expectedId(CURRENT_ENGINE, src)}`)).status).toBe(404);
    const o = await post(open, JSON.stringify({ source: src }), false);
    expect(o.status).toBe(201);
  }, 60_000);

  test('CORS on the upload only when the node is open: a page may then upload; else no preflight', async () => {
    const origin = 'https://playground.example';
    const preflight = (s: TestServer) =>
      fetch(`${s.url}/v1/programs`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const openPre = await preflight(open);
    expect(openPre.status).toBe(204);
    expect(openPre.headers.get('access-control-allow-origin')).toBe('*');
    expect(openPre.headers.get('access-control-allow-headers')!.toLowerCase()).not.toContain('authorization');
    const src = 'export default { apply() { return { writes: [{ key: "from", value: "a page" }] }; } };';
    const up = await fetch(`${open.url}/v1/programs`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ source: src }) });
    expect(up.status).toBe(201);
    expect(up.headers.get('access-control-allow-origin')).toBe('*');
    // The admin-only node: no CORS answer on the upload, and its 401 carries none either.
    const closedPre = await preflight(node);
    expect(closedPre.headers.get('access-control-allow-origin')).toBeNull();
    const refused = await fetch(`${node.url}/v1/programs`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ source: src }) });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // Reading a program is public on both.
    const id = ((await up.json()) as { id: string }).id;
    expect((await fetch(`${open.url}/v1/programs/${id}`, { headers: { origin } })).headers.get('access-control-allow-origin')).toBe('*');
  }, 60_000);

  test('refused sources are problem+json 4xx and nothing is stored', async () => {
    const cases: [string, number, string][] = [
      [JSON.stringify({ source: 'export default { x: "\\ud800" };' }).replace('\\\\ud800', '\\ud800'), 400, 'invalid_program'],
      [JSON.stringify({ source: 'export default {' }), 400, 'invalid_program'],
      [JSON.stringify({ source: 'export default { f() { return 2n ** 64n; } };' }), 400, 'invalid_program'],
      [JSON.stringify({ source: 'for (;;) {} export default {};' }), 400, 'invalid_program'],
      [JSON.stringify({ source: 'export const x = 1;' }), 400, 'invalid_program'],
      [JSON.stringify({ source: '// ' + 'é'.repeat(33_000) + '\nexport default {};' }), 413, 'payload_too_large'],
      [JSON.stringify({ source: 'x'.repeat(600_000) }), 413, 'payload_too_large'],
      [JSON.stringify({ source: 5 }), 400, 'validation_failed'],
      [JSON.stringify({ source: 'export default {};', extra: 1 }), 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const r = await post(node, body);
      expect({ status: r.status, type: r.headers.get('content-type') }).toEqual({ status, type: 'application/problem+json' });
      expect(((await r.json()) as { code: string }).code).toBe(code);
    }
    // The lone-surrogate source was not stored under any spelling.
    const lone = 'export default { x: "\ud800" };';
    expect((await fetch(`${node.url}/v1/programs/${expectedId(CURRENT_ENGINE, lone.replace('\ud800', '\ufffd'))}`)).status).toBe(404);
    // A source of exactly 64 KiB (escaped to more than 64 KiB of JSON) is accepted.
    const big = 'export default {};\n//' + 'a'.repeat(64 * 1024 - 21);
    expect(new TextEncoder().encode(big).length).toBe(64 * 1024);
    const r = await post(node, JSON.stringify({ source: big }).replace(/a/g, '\\u0061'));
    expect(r.status).toBe(201);
  }, 60_000);

  test('GET of a malformed id is 400', async () => {
    expect((await fetch(`${node.url}/v1/programs/xyz`)).status).toBe(400);
  });
});
