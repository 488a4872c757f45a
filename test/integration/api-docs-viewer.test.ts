import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startServer, startServerProcess, type TestServer } from '../helpers/server.ts';

/**
 * `/docs` is served by the node (the `npm start` entry point reads the viewer from node_modules):
 * the page and its scripts come from the node, nothing refers to another host. Chromium renders
 * it in test/interop/browser-docs.test.ts.
 */
let s: TestServer;
beforeAll(async () => {
  s = await startServerProcess();
});
afterAll(async () => {
  await s.close();
});

describe('/docs', () => {
  test('the page loads only same-origin files, under a CSP that allows nothing else', async () => {
    const res = await fetch(`${s.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual(['/docs/init.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']);
  });

  test('the viewer files are the swagger-ui-dist package\'s, byte for byte; the init script never calls a validator', async () => {
    for (const [name, type] of [
      ['swagger-ui-bundle.js', 'text/javascript'],
      ['swagger-ui.css', 'text/css'],
    ] as const) {
      const res = await fetch(`${s.url}/docs/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(REPO_ROOT, 'node_modules', 'swagger-ui-dist', name)))).toBe(true);
    }
    const init = await (await fetch(`${s.url}/docs/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });

  test('a host without the viewer files (as on Workers) points to /openapi.json, still nothing external', async () => {
    const bare = await startServer(); // createNode without docs assets
    try {
      const html = await (await fetch(`${bare.url}/docs`)).text();
      expect(html).toContain('href="/openapi.json"');
      expect(html).not.toMatch(/https?:\/\//);
      expect((await fetch(`${bare.url}/docs/swagger-ui-bundle.js`)).status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
