import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';

/**
 * CORS on the public API, none on admin routes: real preflight requests (OPTIONS with Origin and
 * Access-Control-Request-*) and real cross-origin requests against a real server. Chromium makes
 * the same calls from a page on another origin in test/interop/browser-sdk.test.ts.
 */

const ORIGIN = 'https://app.example';

function preflight(base: string, path: string, method: string, origin = ORIGIN, headers = 'content-type') {
  return fetch(base + path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

interface Operation {
  method: string;
  path: string;
  admin: boolean;
}

/** Every operation of the node's OpenAPI document, with path parameters filled in. */
async function operations(base: string): Promise<Operation[]> {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>>;
  };
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      out.push({
        method: method.toUpperCase(),
        path: path.replace(/\{[^}]+\}/g, (p) => (p === '{key}' ? 'a/b' : p === '{height}' || p === '{seq}' ? '1' : 'x')),
        admin: (op.security ?? []).some((s) => 'adminToken' in s),
      });
    }
  }
  return out;
}

describe('CORS, default origins (*)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s.close();
  });

  test('preflight for a transaction: 204, any origin, POST, Content-Type only', async () => {
    const r = await preflight(s.url, '/v1/transactions', 'POST');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-methods')!.split(',')).toContain('POST');
    expect(r.headers.get('access-control-allow-headers')!.toLowerCase()).toBe('content-type');
    expect(r.headers.get('access-control-max-age')).toBe('600');
  });

  test('a browser page may never send an admin token: Authorization is not an allowed header', async () => {
    const r = await preflight(s.url, '/v1/subtrees', 'POST', ORIGIN, 'content-type,authorization');
    expect(r.headers.get('access-control-allow-headers')!.toLowerCase()).not.toContain('authorization');
  });

  test('reads and refusals carry Access-Control-Allow-Origin, so a page can read problem+json too', async () => {
    const info = await fetch(`${s.url}/v1/info`, { headers: { origin: ORIGIN } });
    expect(info.status).toBe(200);
    expect(info.headers.get('access-control-allow-origin')).toBe('*');
    const bad = await fetch(`${s.url}/v1/transactions`, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'text/plain' }, body: 'x' });
    expect(bad.status).toBe(415);
    expect(bad.headers.get('access-control-allow-origin')).toBe('*');
    const unknown = await fetch(`${s.url}/v1/subtrees/${'0'.repeat(64)}`, { headers: { origin: ORIGIN } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('access-control-allow-origin')).toBe('*');
    const ots = await fetch(`${s.url}/v1/checkpoints/0/ots`, { headers: { origin: ORIGIN } });
    expect(ots.headers.get('access-control-expose-headers')).toContain('X-Anchor-Status');
  });

  test('every public operation of /openapi.json answers its preflight; no admin operation does', async () => {
    const ops = await operations(s.url);
    const admin = ops.filter((o) => o.admin);
    const pub = ops.filter((o) => !o.admin);
    expect(admin.length).toBeGreaterThanOrEqual(14); // tick, checkpoint build, the webhook routes
    expect(pub.length).toBeGreaterThanOrEqual(20);
    for (const o of pub) {
      const r = await preflight(s.url, o.path, o.method);
      expect({ op: `${o.method} ${o.path}`, status: r.status, origin: r.headers.get('access-control-allow-origin') }).toEqual({
        op: `${o.method} ${o.path}`,
        status: 204,
        origin: '*',
      });
    }
    for (const o of admin) {
      const r = await preflight(s.url, o.path, o.method);
      const cors = [...r.headers.keys()].filter((k) => k.startsWith('access-control-'));
      expect({ op: `${o.method} ${o.path}`, ok: r.ok, cors }).toEqual({ op: `${o.method} ${o.path}`, ok: false, cors: [] });
    }
  });

  test('admin calls from another origin get no CORS headers (the browser hides the answer)', async () => {
    const r = await fetch(`${s.url}/v1/leader/tick`, { method: 'POST', headers: { origin: ORIGIN, ...adminHeader() } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const w = await fetch(`${s.url}/v1/webhooks`, { headers: { origin: ORIGIN, ...adminHeader() } });
    expect(w.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS, configured origins', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { DSTP_CORS_ORIGINS: 'https://a.example, http://127.0.0.1:3000' } });
  });
  afterAll(async () => {
    await s.close();
  });

  test('a listed origin is echoed (with Vary: Origin); another gets no Allow-Origin', async () => {
    const ok = await preflight(s.url, '/v1/transactions', 'POST', 'http://127.0.0.1:3000');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3000');
    expect(ok.headers.get('vary')).toContain('Origin');
    const read = await fetch(`${s.url}/v1/info`, { headers: { origin: 'https://a.example' } });
    expect(read.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(read.headers.get('vary')).toContain('Origin');
    const other = await preflight(s.url, '/v1/transactions', 'POST', 'https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await call(s.url, 'GET', '/v1/info', { headers: { origin: 'https://evil.example' } })).status).toBe(200);
  });
});

describe('CORS off and bad settings', () => {
  test('DSTP_CORS_ORIGINS=none: no CORS headers, preflight is not answered', async () => {
    const s = await startServer({ env: { DSTP_CORS_ORIGINS: 'none' } });
    try {
      const r = await preflight(s.url, '/v1/transactions', 'POST');
      expect(r.ok).toBe(false);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
      expect((await fetch(`${s.url}/v1/info`, { headers: { origin: ORIGIN } })).headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await s.close();
    }
  });

  test('values: *, none, lists; a value that is not an origin stops the node with the variable named', () => {
    expect(loadConfig({}).corsOrigins).toBe('*');
    expect(loadConfig({ DSTP_CORS_ORIGINS: 'none' }).corsOrigins).toEqual([]);
    expect(loadConfig({ DSTP_CORS_ORIGINS: 'https://a.example/,http://[::1]:8080' }).corsOrigins).toEqual(['https://a.example', 'http://[::1]:8080']);
    for (const bad of ['a.example', 'https://a.example/path', 'ftp://a.example', 'https://a.example,*']) {
      expect(() => loadConfig({ DSTP_CORS_ORIGINS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ DSTP_CORS_ORIGINS: bad })).toThrow(/DSTP_CORS_ORIGINS/);
    }
  });
});
