import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startServerProcess, type TestServer } from '../helpers/server.ts';
import { launchChromium } from './chromium.ts';

/**
 * The SDK in a browser: `src/client/index.ts` bundled for the browser (`bun build --target
 * browser`), loaded by a page served from ANOTHER origin than the node, so every call goes through
 * CORS. In headless Chromium the page creates a subtree, signs and submits a transaction, waits for
 * it and verifies the value's proof against the signed round, and its EventSource receives the
 * round that executed it from the subtree's event stream; the test reads what the page shows.
 */
let node: TestServer;
let site: ReturnType<typeof Bun.serve>;
let chrome: Awaited<ReturnType<typeof launchChromium>>;
let dir: string;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>dstp SDK in a browser</title></head>
<body><pre id="result">running</pre>
<script type="module">
import { DstpClient, buildSubtreeRequest, fetchVerifiedState, generateKey, signSubtreeRequest } from './sdk.js';
const show = (v) => { document.getElementById('result').textContent = JSON.stringify(v); };
try {
  const client = new DstpClient({ baseUrl: new URLSearchParams(location.search).get('node') });
  const info = await client.info();
  const owner = generateKey('secp256k1');
  const spec = buildSubtreeRequest({ network: info.network, owner: owner.publicKey, name: 'browser', program: 'kv', config: { writers: 'any' }, mode: { type: 'poa', authority: info.publicKey } });
  const head = await client.createSubtree(signSubtreeRequest(spec, [owner]));
  // The live feed of final rounds (SPEC §12), through CORS, with the browser's own EventSource.
  const es = new EventSource(new URLSearchParams(location.search).get('node') + '/v1/subtrees/' + head.id + '/events');
  const firstRound = new Promise((resolve, reject) => {
    es.addEventListener('round', (e) => resolve({ id: e.lastEventId, height: JSON.parse(e.data).header.height, txs: JSON.parse(e.data).txs }));
    setTimeout(() => reject(new Error('no round event within 20 s')), 20000);
  });
  await new Promise((resolve) => (es.onopen = resolve));
  const sent = await client.send({ subtree: head.id, key: owner, call: 'set', args: { key: 'greeting', value: 'hello from ' + location.origin } });
  const tx = await client.waitForExecution(sent.id, { timeoutMs: 20000 });
  const event = await firstRound;
  es.close();
  const { verified } = await fetchVerifiedState(client, head.id, 'kv/greeting');
  let tampered = null;
  try {
    await fetchVerifiedState(client, head.id, 'kv/greeting', { expectedValue: 'something else' });
  } catch (e) {
    tampered = e.link;
  }
  show({ subtree: head.id, sent: sent.id, event, tx: tx.status, value: verified.value, signers: verified.signers, links: verified.links.map((l) => l.link), tampered });
} catch (e) {
  show({ error: String(e && e.stack || e) });
}
</script></body></html>`;

beforeAll(async () => {
  // Anyone may create subtrees the node co-signs: a browser page never holds the admin token.
  node = await startServerProcess({ openSubtrees: true });
  dir = mkdtempSync(join(tmpdir(), 'dstp-browser-sdk-'));
  const built = await Bun.build({ entrypoints: [join(REPO_ROOT, 'src/client/index.ts')], target: 'browser', format: 'esm', outdir: dir, naming: 'sdk.js' });
  if (!built.success) throw new Error(built.logs.join('\n'));
  const sdk = readFileSync(join(dir, 'sdk.js'));
  site = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === '/') return new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } });
      if (path === '/sdk.js') return new Response(sdk, { headers: { 'content-type': 'text/javascript' } });
      return new Response('not found', { status: 404 });
    },
  });
  chrome = await launchChromium();
}, 60_000);
afterAll(async () => {
  await chrome?.close();
  site?.stop(true);
  await node?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the SDK browser bundle in Chromium', () => {
  test('a page on another origin creates a subtree, signs and submits a transaction and verifies its proof', async () => {
    const origin = `http://127.0.0.1:${site.port}`;
    expect(origin).not.toBe(node.url);
    const page = await chrome.browser.newPage();
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(node.url) && r.method() === 'POST') posts.push(new URL(r.url()).pathname);
    });
    await page.goto(`${origin}/?node=${encodeURIComponent(node.url)}`);
    await page.waitForFunction(() => document.getElementById('result')?.textContent !== 'running', null, { timeout: 60_000 });
    const result = JSON.parse((await page.textContent('#result'))!);
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      tx: 'executed',
      value: `hello from ${origin}`,
      signers: [node.nodeKey],
      links: ['proof', 'round', 'signatures', 'subtree'],
      tampered: 'proof',
    });
    expect(posts).toEqual(['/v1/subtrees', '/v1/transactions']);
    // The EventSource saw the round that executed the transaction, with SPEC §12's id.
    expect(result.event).toEqual({ id: '1', height: 1, txs: [result.sent] });
    // The node holds what the browser wrote.
    const state = (await (await fetch(`${node.url}/v1/subtrees/${result.subtree}/state/kv/greeting`)).json()) as { value: string };
    expect(state.value).toBe(`hello from ${origin}`);
    await page.close();
  }, 90_000);
});
