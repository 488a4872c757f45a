import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startServerProcess, type TestServer } from '../helpers/server.ts';
import { launchChromium } from './chromium.ts';

/**
 * `/docs` in a real browser: headless Chromium opens the page a node started with `bun
 * src/runtime/bun.ts` serves, the viewer renders the operations of /openapi.json, and every
 * request the page makes goes to the node itself (nothing from a CDN).
 */
let server: TestServer;
let chrome: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  server = await startServerProcess();
  chrome = await launchChromium();
}, 60_000);
afterAll(async () => {
  await chrome?.close();
  await server?.close();
});

describe('/docs in Chromium', () => {
  test('renders every operation of /openapi.json, loading nothing from other hosts', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    const page = await chrome.browser.newPage();
    const requests: string[] = [];
    const failed: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('requestfailed', (r) => failed.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const res = await page.goto(`${server.url}/docs`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    // Swagger UI renders one .opblock per operation (tags expanded by default).
    await page.waitForFunction((n) => document.querySelectorAll('.opblock').length >= n, operations, { timeout: 30_000 });
    const shown = await page.$$eval('.opblock', (els) => els.map((e) => `${e.querySelector('.opblock-summary-method')?.textContent} ${e.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`));
    expect(shown.length).toBe(operations);
    expect(shown).toContain('POST /v1/transactions');
    expect(shown).toContain('GET /v1/subtrees/{id}/state/{key}');
    expect(await page.title()).toBe('dstp API');
    const foreign = requests.filter((u) => !u.startsWith(`${server.url}/`) && !u.startsWith('data:'));
    expect({ foreign, failed, errors }).toEqual({ foreign: [], failed: [], errors: [] });
    expect(requests).toContain(`${server.url}/openapi.json`);
    await page.close();
  }, 90_000);
});
