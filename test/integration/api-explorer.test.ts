import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { EXPLORER_CSS, EXPLORER_JS, EXPLORER_VERSION } from '../../src/api/routes/explorer/assets.generated.ts';
import { buildExplorerModule, EXPLORER_MODULE } from '../../scripts/build-explorer.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

/**
 * `/explorer` as the node serves it: the page and its two files, versioned by content, gzip when
 * asked, a CSP that keeps the page on its own origin; and the committed bundle is what
 * `npm run explorer:build` makes of the current sources. The page itself runs in Chromium in
 * test/interop/explorer.test.ts.
 */
let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s?.close();
});

describe('/explorer', () => {
  test('the committed bundle is up to date with src/explorer and src/client (else run npm run explorer:build)', async () => {
    expect(readFileSync(EXPLORER_MODULE, 'utf8') === (await buildExplorerModule())).toBe(true);
  }, 60_000);

  test('the page names its versioned script and stylesheet and allows nothing from other origins', async () => {
    for (const path of ['/explorer', '/explorer/']) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      const html = await res.text();
      expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual(['data:,', `/explorer/app.css?v=${EXPLORER_VERSION}`, `/explorer/app.js?v=${EXPLORER_VERSION}`]);
    }
  });

  test('script and stylesheet: gzip when accepted, plain otherwise, cached by content version', async () => {
    for (const [name, text, type] of [['app.js', EXPLORER_JS, 'text/javascript'], ['app.css', EXPLORER_CSS, 'text/css']] as const) {
      const url = `${s.url}/explorer/${name}?v=${EXPLORER_VERSION}`;
      const zipped = await fetch(url, { headers: { 'accept-encoding': 'gzip' }, decompress: false } as RequestInit);
      expect(zipped.status).toBe(200);
      expect(zipped.headers.get('content-encoding')).toBe('gzip');
      expect(zipped.headers.get('content-type')).toStartWith(type);
      expect(zipped.headers.get('cache-control')).toContain('immutable');
      const bytes = new Uint8Array(await zipped.arrayBuffer());
      expect(new TextDecoder().decode(gunzipSync(bytes))).toBe(text);
      const plain = await fetch(url, { headers: { 'accept-encoding': 'identity' }, decompress: false } as RequestInit);
      expect(plain.headers.get('content-encoding')).toBeNull();
      expect(await plain.text()).toBe(text);
      const again = await fetch(url, { headers: { 'if-none-match': `"${EXPLORER_VERSION}"` } });
      expect(again.status).toBe(304);
    }
  });

  test('an unknown file under /explorer is a problem+json 404', async () => {
    const res = await fetch(`${s.url}/explorer/nope.js`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
