/**
 * The explorer page's weight and first render (issue 21: goal < 200 KB transferred on first load
 * and < 500 ms to the first render of the subtree list, against a node with 1,000 subtrees on
 * loopback). The real node in a child process gets BENCH_EXPLORER_SUBTREES (1,000) kv subtrees,
 * then headless Chromium (Debian's, as in test:interop) opens /explorer LOADS times:
 * - cold: HTTP cache disabled (every byte fetched): bytes on the wire from the Network domain
 *   (`encodedDataLength`: headers + bodies as transferred, gzip included) up to the render;
 * - warm: a second visit with the cache (the versioned script and stylesheet are immutable).
 * First render = the page's own `performance.mark('dstp:list-rendered')`, set when the list's
 * first page is in the DOM, measured from navigation start.
 *
 * Run: `bun bench/explorer-load.ts` (~1 min). Env: BENCH_EXPLORER_SUBTREES, BENCH_EXPLORER_LOADS (7).
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { buildSubtreeRequest, generateKey, signSubtreeRequest } from '../src/client/index.ts';
import { toHex } from '../src/core/hex.ts';
import { launchChromium } from '../test/interop/chromium.ts';
import { benchDir, envInt, fmtMs, getJson, percentile, postJson, startBenchServer, writeResult } from './load-client.ts';

const SUBTREES = envInt('BENCH_EXPLORER_SUBTREES', 1000);
const LOADS = envInt('BENCH_EXPLORER_LOADS', 7);
const ADMIN = 'bench-admin-token-0123456789';
const NETWORK = 'dstp-bench';

const dir = benchDir('explorer');
const server = await startBenchServer({ dir, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), adminToken: ADMIN, network: NETWORK });
const chrome = await launchChromium();
try {
  const info = await getJson<{ publicKey: string }>(server.url, '/v1/info');
  const owner = generateKey();
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < SUBTREES) {
      const i = next++;
      const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name: `app-${String(i).padStart(4, '0')}`, program: 'kv', config: { writers: 'any' }, mode: { type: 'poa', authority: info.publicKey } });
      const r = await postJson(server.url, '/v1/subtrees', signSubtreeRequest(spec, [owner]), { authorization: `Bearer ${ADMIN}` });
      if (r.status !== 201) throw new Error(`create ${i}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  console.log(`created ${SUBTREES} subtrees in ${fmtMs(performance.now() - t0)} ms`);

  const measure = async (cold: boolean) => {
    const page = await chrome.browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: cold });
    let bytes = 0;
    const files: Record<string, number> = {};
    const urls = new Map<string, string>();
    cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
    cdp.on('Network.loadingFinished', (e) => {
      bytes += e.encodedDataLength;
      const u = new URL(urls.get(e.requestId) ?? 'http://x/?');
      files[u.pathname] = (files[u.pathname] ?? 0) + e.encodedDataLength;
    });
    await page.goto(`${server.url}/explorer`);
    await page.waitForSelector('body[data-list-rendered]');
    const render = await page.evaluate(() => performance.getEntriesByName('dstp:list-rendered')[0]!.startTime);
    // Where the time went: when the script arrived, and when the list request started and ended.
    const timing = await page.evaluate(() => {
      const r = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
      const js = r.find((e) => e.name.includes('/explorer/app.js'));
      const list = r.find((e) => e.name.includes('/v1/subtrees'));
      return { scriptEnd: js?.responseEnd ?? NaN, listStart: list?.startTime ?? NaN, listEnd: list?.responseEnd ?? NaN };
    });
    const rows = await page.$$eval('#subtrees tbody tr', (els) => els.length);
    await page.close();
    return { bytes, render, rows, files, ...timing };
  };

  // One visit to warm the node's caches and the browser's process; then the measured loads.
  await measure(true);
  const cold = [];
  const warm = [];
  for (let i = 0; i < LOADS; i++) cold.push(await measure(true));
  for (let i = 0; i < LOADS; i++) warm.push(await measure(false));
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: percentile(s, 0.5), min: s[0]!, max: s[s.length - 1]!, all: xs.map((x) => Math.round(x)) };
  };
  const result = {
    subtrees: SUBTREES,
    loads: LOADS,
    rowsShown: cold[0]!.rows,
    coldBytes: stats(cold.map((c) => c.bytes)),
    coldBytesByPath: cold[0]!.files,
    coldRenderMs: stats(cold.map((c) => c.render)),
    warmBytes: stats(warm.map((c) => c.bytes)),
    warmRenderMs: stats(warm.map((c) => c.render)),
    coldScriptArrivedMs: stats(cold.map((c) => c.scriptEnd)),
    coldListRequestMs: stats(cold.map((c) => c.listEnd - c.listStart)),
    loadAverage: loadavg()[0],
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `first load: ${(result.coldBytes.median / 1024).toFixed(1)} KB transferred (goal < 200 KB), first render of the list ${fmtMs(result.coldRenderMs.median)} ms cold / ${fmtMs(result.warmRenderMs.median)} ms warm (goal < 500 ms)`,
  );
  await writeResult('explorer-load', result);
} finally {
  await chrome.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
