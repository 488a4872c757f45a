import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  DstpClient,
  buildSubtreeRequest,
  generateKey,
  signDigestHex,
  signSubtreeRequest,
  tokenGenesis,
  type KeyPair,
  type SubtreeHead,
} from '../../src/client/index.ts';
import { startLocalCalendar, type LocalCalendar } from '../helpers/ots-calendar.ts';
import { ADMIN_TOKEN, REPO_ROOT, startServerProcess, type TestServer } from '../helpers/server.ts';
import { launchChromium } from './chromium.ts';

/**
 * The explorer page (/explorer) in headless Chromium against real nodes: node A hosts a PoA
 * token subtree, a kv subtree and a 2-of-3 multisig subtree, checkpoints them and anchors the
 * checkpoint through a local OpenTimestamps calendar; node B follows the token subtree. The page
 * is loaded through a proxy in front of A that can flip a byte of the answers, so the page's own
 * verification (the SDK running in it) must mark a genuine proof verified and a tampered one
 * failed, naming the link. Screenshots go to test-results/explorer/ (git-ignored).
 */
const SHOTS = join(REPO_ROOT, 'test-results', 'explorer');

let cal: LocalCalendar;
let a: TestServer;
let b: TestServer;
let proxy: ReturnType<typeof Bun.serve>;
let chrome: Awaited<ReturnType<typeof launchChromium>>;
let tamper: 'none' | 'state-sibling' | 'checkpoint-sig' = 'none';
let site = '';

const owner = generateKey();
const alice = generateKey();
const bob = generateKey();
const signers: KeyPair[] = [generateKey(), generateKey(), generateKey()];
let coin: SubtreeHead;
let notes: SubtreeHead;
let multi: SubtreeHead;
let counter: SubtreeHead;
let transferId = '';
let incrementId = '';
let clientA: DstpClient;

/** Changes one hex character of `text` at `i` (one byte of the body). */
function flip(text: string, i: number): string {
  if (i < 0 || !/[0-9a-f]/.test(text[i]!)) throw new Error(`no hex character to flip at ${i}`);
  return text.slice(0, i) + (text[i] === '0' ? '1' : '0') + text.slice(i + 1);
}

async function forward(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const res = await fetch(a.url + url.pathname + url.search, { method: req.method, headers: req.headers, ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: await req.arrayBuffer() }) });
  const headers = new Headers(res.headers);
  // fetch decoded the body already.
  headers.delete('content-encoding');
  headers.delete('content-length');
  const isState = /^\/v1\/subtrees\/[0-9a-f]{64}\/state\//.test(url.pathname);
  const isChain = /^\/v1\/subtrees\/[0-9a-f]{64}\/chain\//.test(url.pathname);
  if (res.ok && ((tamper === 'state-sibling' && isState) || (tamper === 'checkpoint-sig' && isChain))) {
    const text = await res.text();
    const at = tamper === 'state-sibling' ? text.indexOf('"siblings":["') + 13 + 20 : text.indexOf('"sig":"', text.indexOf('"checkpoint":{"checkpoint"')) + 7 + 20;
    return new Response(flip(text, at), { status: res.status, headers });
  }
  return new Response(res.body, { status: res.status, headers });
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

async function openPage(path: string, width = 1200): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await chrome.browser.newPage();
  await page.setViewportSize({ width, height: 900 });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(path);
  return { page, requests, errors };
}

async function linkStatuses(page: Page, scope: string): Promise<Record<string, string>> {
  return page.$$eval(`${scope} li[data-link]`, (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-link'), e.getAttribute('data-status')])));
}

/** Elements that stick out past the right edge of the viewport (none on a page that fits). */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    document.documentElement.scrollWidth <= window.innerWidth
      ? []
      : [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth && !e.closest('.scroll')).map((e) => `${e.tagName}.${e.className}`),
  );
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  cal = startLocalCalendar();
  // Checkpoints only when the test asks, so the anchored checkpoint 0 stays the latest.
  a = await startServerProcess({ env: { DSTP_CHECKPOINT_INTERVAL_MS: '3600000', DSTP_OTS_CALENDARS: cal.url, DSTP_OTS_INTERVAL_MS: '40', DSTP_OTS_UPGRADE_INTERVAL_MS: '20', DSTP_OTS_TIMEOUT_MS: '1000' } });
  b = await startServerProcess({ env: { DSTP_PEER_ALLOW_PRIVATE: 'true', DSTP_FOLLOW_INTERVAL_MS: '100' } });
  proxy = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 0, fetch: forward });
  site = `http://127.0.0.1:${proxy.port}`;
  clientA = new DstpClient({ baseUrl: a.url, adminToken: ADMIN_TOKEN });
  const info = await clientA.info();
  const poa = { type: 'poa' as const, authority: info.publicKey };
  const create = (name: string, program: string, config: Record<string, unknown>, mode: Parameters<typeof buildSubtreeRequest>[0]['mode'], genesis: ReturnType<typeof tokenGenesis> = [], keys: KeyPair[] = []) =>
    clientA.createSubtree(signSubtreeRequest(buildSubtreeRequest({ network: info.network, owner: owner.publicKey, name, program, config: config as never, mode, genesis }), [owner, ...keys]));
  coin = await create('coin', 'token', { symbol: 'CO', decimals: 0, minter: owner.publicKey }, poa, tokenGenesis({ [alice.publicKey]: 10, [bob.publicKey]: 1 }));
  notes = await create('notes', 'kv', { writers: 'any' }, poa);
  multi = await create('board', 'kv', { writers: 'any' }, { type: 'multisig', signers: signers.map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 600_000 }, [], signers.slice(0, 2));

  const sent = await clientA.send({ subtree: coin.id, key: alice, call: 'transfer', args: { to: bob.publicKey, amount: '2' } });
  transferId = sent.id;
  await clientA.waitForExecution(sent.id, { timeoutMs: 20_000 });
  await clientA.waitForExecution((await clientA.send({ subtree: notes.id, key: owner, call: 'set', args: { key: 'greeting', value: 'hello' } })).id, { timeoutMs: 20_000 });
  // A user program (sandboxed JavaScript): its receipts carry gas.
  const program = await clientA.uploadProgram(readFileSync(join(REPO_ROOT, 'examples', 'programs', 'counter.js'), 'utf8'));
  counter = await create('counter', `js:${program.id}`, { perSender: 3, maxStep: 2 }, poa);
  incrementId = (await clientA.send({ subtree: counter.id, key: alice, call: 'increment', args: { by: 2 } })).id;
  await clientA.waitForExecution(incrementId, { timeoutMs: 20_000 });
  // The multisig round becomes final once two signers co-sign the leader's proposal.
  await clientA.send({ subtree: multi.id, key: owner, call: 'set', args: { key: 'motion', value: 'carried' } });
  const proposal = await until('a multisig proposal', async () => (await clientA.listProposals(multi.id, { status: 'open' })).items[0]);
  for (const s of signers.slice(0, 2)) await clientA.addRoundSignature(multi.id, proposal.height, { signer: s.publicKey, sig: signDigestHex(s, Buffer.from(proposal.hash, 'hex')) });

  // A checkpoint of all three, anchored: pending at the calendar, then "mined" into a block.
  const cp = await fetch(`${a.url}/v1/checkpoints`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(cp.status).toBe(200);
  await until('a pending anchor', async () => (await fetch(`${a.url}/v1/checkpoints/0/ots`)).headers.get('x-anchor-status') === 'pending');
  cal.mine(840_000);
  await until('a confirmed anchor', async () => (await fetch(`${a.url}/v1/checkpoints/0/ots`)).headers.get('x-anchor-status') === 'confirmed');

  // Node B follows the token subtree from A.
  const clientB = new DstpClient({ baseUrl: b.url, adminToken: ADMIN_TOKEN });
  await clientB.follow(a.url, coin.id);
  await until('B following coin', async () => {
    const f = await clientB.getFollow(coin.id);
    return f.status === 'following' && f.height >= 1;
  });
  chrome = await launchChromium();
}, 120_000);

afterAll(async () => {
  await chrome?.close();
  proxy?.stop(true);
  await b?.close();
  await a?.close();
  await cal?.close();
});

describe('/explorer in Chromium', () => {
  test('the subtree list renders the node\'s subtrees; the page loads nothing from other hosts', async () => {
    const { page, requests, errors } = await openPage(`${site}/explorer`);
    await page.waitForSelector('body[data-list-rendered]');
    const rows = await page.$$eval('#subtrees tbody tr', (els) => els.map((e) => ({ id: e.getAttribute('data-subtree'), name: e.querySelector('a')?.textContent, height: e.querySelector('[data-col=height]')?.textContent })));
    expect(rows.map((r) => r.name).sort()).toEqual(['board', 'coin', 'counter', 'notes']);
    expect(rows.find((r) => r.name === 'coin')).toEqual({ id: coin.id, name: 'coin', height: '1' });
    await page.waitForSelector('#live[data-state="live"]');
    const foreign = requests.filter((u) => !u.startsWith(`${site}/`));
    expect({ foreign, errors }).toEqual({ foreign: [], errors: [] });
    // Exactly one event stream for the page, and the list moves with it.
    expect(requests.filter((u) => u.includes('/v1/events')).length).toBe(1);
    const before = Number(await page.textContent(`tr[data-subtree="${notes.id}"] [data-col=height]`));
    await clientA.send({ subtree: notes.id, key: owner, call: 'set', args: { key: 'list', value: 'live' } });
    await until('a new round of notes', async () => (await clientA.getSubtree(notes.id)).height > before, 10_000);
    await page.waitForFunction(([id, h]) => Number(document.querySelector(`tr[data-subtree="${id}"] [data-col=height]`)?.textContent) > h, [notes.id, before] as const, { timeout: 1000 });
    await page.screenshot({ path: join(SHOTS, 'list.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a subtree view shows rounds with verified signatures, and a new round appears within a second without reload', async () => {
    const height = (await clientA.getSubtree(notes.id)).height; // the list test added a round already
    const { page, errors } = await openPage(`${site}/explorer#/s/${notes.id}`);
    await page.waitForSelector(`#rounds tbody tr[data-height="${height}"]`);
    expect(await page.textContent('#head-height')).toBe(String(height));
    expect(await page.$$eval('#rounds tbody tr', (els) => els.map((e) => [e.getAttribute('data-height'), e.querySelector('[data-verdict]')?.getAttribute('data-verdict')]))).toEqual(
      Array.from({ length: height + 1 }, (_, i) => [String(height - i), 'ok']),
    );
    expect(await page.textContent('dl.fields')).toContain('id = objectId(parent, owner, name)');
    await page.waitForSelector('#live[data-state="live"]');
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await clientA.send({ subtree: notes.id, key: owner, call: 'set', args: { key: 'greeting', value: 'hello again' } });
    await until('a new round final on the node', async () => (await clientA.getSubtree(notes.id)).height > height, 10_000);
    const final = Date.now();
    await page.waitForSelector(`#rounds tbody tr[data-height="${height + 1}"]`, { timeout: 1000 });
    const shown = Date.now() - final;
    console.log(`new round shown ${shown} ms after the node reported it final`);
    expect(shown).toBeLessThan(1000);
    expect(await page.textContent('#head-height')).toBe(String(height + 1));
    expect(navigations).toEqual([]);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'subtree.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a multisig subtree shows its proposals and rounds final under 2-of-3', async () => {
    const { page, errors } = await openPage(`${site}/explorer#/s/${multi.id}`);
    await page.waitForSelector('#proposals tr[data-proposal]');
    expect(await page.textContent('#proposals')).toContain('final');
    await page.waitForSelector('#rounds tbody tr[data-height="1"]');
    expect(await page.textContent('#rounds tbody tr[data-height="1"]')).toContain('final, 2/2 valid');
    // The genesis round is final with the creation request, not by the signers' signatures.
    expect(await page.getAttribute('#rounds tbody tr[data-height="0"] [data-verdict]', 'data-verdict')).toBe('skip');
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'subtree-multisig.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a round shows its header, transactions and receipts, every root recomputed in the page', async () => {
    const { page, errors } = await openPage(`${site}/explorer#/s/${coin.id}/r/1`);
    await page.waitForSelector(`#txs tr[data-tx="${transferId}"] .status.executed`);
    const header = await page.textContent('#round-header');
    expect(header).toContain('digest("round", header)');
    expect(header).toContain('RFC 6962 root of the tx ids');
    await page.waitForFunction(() => document.querySelector('#round-header')?.textContent?.includes('RFC 6962 root of the receipts'));
    expect(await page.$$eval('#round-header [data-verdict]', (els) => els.map((e) => e.getAttribute('data-verdict')))).toEqual(['ok', 'ok', 'ok']);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'round.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a user program\'s round shows the gas of each receipt', async () => {
    const tx = await clientA.getTransaction(incrementId);
    const { page, errors } = await openPage(`${site}/explorer#/s/${counter.id}/r/${tx.height}`);
    await page.waitForSelector(`#txs tr[data-tx="${incrementId}"] .status.executed`);
    const cells = await page.$$eval(`#txs tr[data-tx="${incrementId}"] td`, (els) => els.map((e) => e.textContent));
    expect(tx.receipt?.gas).toBeGreaterThan(0);
    expect(cells[4]).toBe(String(tx.receipt!.gas));
    await page.waitForFunction(() => document.querySelector('#round-header')?.textContent?.includes('RFC 6962 root of the receipts'));
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'round-gas.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a key: the proof drawn leaf → root and the whole chain to the .ots, each link verified in the page', async () => {
    const key = `balance/${bob.publicKey}`;
    const { page, errors } = await openPage(`${site}/explorer#/s/${coin.id}/k/${encodeURIComponent(key)}`);
    await page.waitForSelector('#chain-outcome [data-verdict]', { timeout: 30_000 });
    expect(await page.textContent('#state dl')).toContain('"3"');
    expect(await linkStatuses(page, '#state')).toEqual({ proof: 'ok', round: 'ok', signatures: 'ok', subtree: 'ok' });
    expect(await linkStatuses(page, '#chain')).toEqual({ proof: 'ok', round: 'ok', signatures: 'ok', subtree: 'ok', global: 'ok', checkpoint: 'ok', log: 'ok', note: 'ok', ots: 'ok' });
    expect(await page.textContent('#chain-outcome')).toContain('anchored in Bitcoin');
    const state = (await (await fetch(`${a.url}/v1/subtrees/${coin.id}/state/${encodeURIComponent(key)}`)).json()) as { proof: { siblings: string[] } };
    expect(await page.$$eval('#proof-drawing .level[data-depth]', (els) => els.length)).toBe(state.proof.siblings.length);
    expect(await page.textContent('#proof-drawing figcaption')).toContain('folds to the root');
    // History: the value at height 0 was the genesis balance.
    await page.evaluate((k) => (location.hash = k), `#/s/${coin.id}/k/${encodeURIComponent(key)}?h=0`);
    await page.waitForFunction(() => document.querySelector('#state h2')?.textContent === 'Value at height 0');
    await page.waitForSelector('#state li[data-link="subtree"][data-status="ok"]');
    expect(await page.textContent('#state dl')).toContain('"1"');
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'key.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a byte flipped by the proxy: the tampered proof and the tampered checkpoint are marked failed, naming the link', async () => {
    const key = `balance/${bob.publicKey}`;
    try {
      tamper = 'state-sibling';
      const one = await openPage(`${site}/explorer#/s/${coin.id}/k/${encodeURIComponent(key)}`);
      await one.page.waitForSelector('#state li[data-link="proof"][data-status="fail"]');
      expect(await linkStatuses(one.page, '#state')).toEqual({ proof: 'fail', round: 'skip', signatures: 'skip', subtree: 'skip' });
      expect(await one.page.textContent('#state li[data-link="proof"]')).toContain('do not fold to the proof root');
      expect(await one.page.textContent('#proof-drawing figcaption')).toContain('does not fold to the root');
      await one.page.screenshot({ path: join(SHOTS, 'key-tampered-proof.png'), fullPage: true });
      await one.page.close();

      tamper = 'checkpoint-sig';
      const two = await openPage(`${site}/explorer#/s/${coin.id}/k/${encodeURIComponent(key)}`);
      await two.page.waitForSelector('#chain-outcome [data-verdict]', { timeout: 30_000 });
      expect(await linkStatuses(two.page, '#state')).toEqual({ proof: 'ok', round: 'ok', signatures: 'ok', subtree: 'ok' });
      expect(await linkStatuses(two.page, '#chain')).toEqual({ proof: 'ok', round: 'ok', signatures: 'ok', subtree: 'ok', global: 'ok', checkpoint: 'fail', log: 'skip', note: 'skip', ots: 'skip' });
      expect(await two.page.textContent('#chain li[data-link="checkpoint"]')).toContain("the node's signature over the checkpoint does not verify");
      await two.page.screenshot({ path: join(SHOTS, 'key-tampered-checkpoint.png'), fullPage: true });
      await two.page.close();
    } finally {
      tamper = 'none';
    }
  }, 60_000);

  test('a transaction: status, acceptance verified, round and receipt', async () => {
    const { page, errors } = await openPage(`${site}/explorer#/tx/${transferId}`);
    await page.waitForSelector('#tx-status');
    expect(await page.textContent('#tx-status')).toBe('executed');
    expect(await page.getAttribute('#acceptance [data-verdict]', 'data-verdict')).toBe('ok');
    expect(await page.textContent('#receipt')).toBe('ok, index 0');
    expect(await page.$$eval('dl.fields [data-verdict]', (els) => els.map((e) => e.getAttribute('data-verdict')))).toEqual(['ok', 'ok', 'ok']);
    expect(await page.getAttribute(`a[href="#/s/${coin.id}/r/1"]`, 'href')).toBe(`#/s/${coin.id}/r/1`);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'tx.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('verify offline: a pasted chain and .ots file are checked in the page with no request to any node; a flipped byte fails', async () => {
    const key = `balance/${bob.publicKey}`;
    const info = await clientA.info();
    const chain = await (await fetch(`${a.url}/v1/subtrees/${coin.id}/chain/${encodeURIComponent(key)}`)).json();
    const bundle = JSON.stringify({ ...(chain as object), request: (await clientA.getSubtree(coin.id)).request, nodeKey: info.publicKey, origin: info.origin });
    const ots = new Uint8Array(await (await fetch(`${a.url}/v1/checkpoints/0/ots`)).arrayBuffer());
    const { page, requests, errors } = await openPage(`${site}/explorer#/verify`);
    await page.waitForSelector('#paste');
    const before = requests.length;
    await page.fill('#paste', bundle);
    await page.setInputFiles('#ots-file', { name: 'checkpoint-0.ots', mimeType: 'application/octet-stream', buffer: Buffer.from(ots) });
    await page.click('#verify-button');
    await page.waitForSelector('#verify-result[data-done]');
    expect(await linkStatuses(page, '#verify-result')).toEqual({ proof: 'ok', round: 'ok', signatures: 'ok', subtree: 'ok', global: 'ok', checkpoint: 'ok', log: 'ok', note: 'ok', ots: 'ok' });
    expect(await page.getAttribute('#verify-outcome', 'data-ok')).toBe('true');
    expect(await page.textContent('#ots-result')).toContain("the verified chain's log root");
    expect(await page.textContent('#ots-result')).toContain('Bitcoin block 840000');
    await page.screenshot({ path: join(SHOTS, 'verify.png'), fullPage: true });
    // One byte of the note's signature flipped: the note link fails.
    const note = (chain as { chain: { note: string } }).chain.note;
    const sigAt = bundle.indexOf(JSON.stringify(note).slice(1, -1)) + JSON.stringify(note).length - 12;
    const bad = bundle.slice(0, sigAt) + (bundle[sigAt] === 'A' ? 'B' : 'A') + bundle.slice(sigAt + 1);
    await page.evaluate(() => document.getElementById('verify-result')!.removeAttribute('data-done'));
    await page.fill('#paste', bad);
    await page.click('#verify-button');
    await page.waitForSelector('#verify-result[data-done]');
    const statuses = await linkStatuses(page, '#verify-result');
    expect(statuses).toMatchObject({ proof: 'ok', checkpoint: 'ok', log: 'ok', note: 'fail', ots: 'skip' });
    // A state answer as the node sends it (no creation request): the proof alone is judged.
    const answer = await (await fetch(`${a.url}/v1/subtrees/${coin.id}/state/${encodeURIComponent(key)}`)).text();
    await page.evaluate(() => document.getElementById('verify-result')!.removeAttribute('data-done'));
    await page.setInputFiles('#ots-file', []);
    await page.fill('#paste', answer);
    await page.click('#verify-button');
    await page.waitForSelector('#verify-result[data-done]');
    expect(await linkStatuses(page, '#verify-result')).toEqual({ proof: 'ok', round: 'skip', signatures: 'skip', subtree: 'skip' });
    // A bare proof of absence.
    const absent = (await (await fetch(`${a.url}/v1/subtrees/${coin.id}/state/balance%2Fnobody`)).json()) as { proof: unknown };
    await page.evaluate(() => document.getElementById('verify-result')!.removeAttribute('data-done'));
    await page.fill('#paste', JSON.stringify(absent.proof));
    await page.click('#verify-button');
    await page.waitForSelector('#verify-result[data-done]');
    expect(await linkStatuses(page, '#verify-result')).toEqual({ proof: 'ok' });
    expect(await page.textContent('#verify-result li[data-link="proof"]')).toContain('absence proven');
    expect(requests.slice(before)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test('a followed subtree on another node shows its origin and follow status', async () => {
    const { page, errors } = await openPage(`${b.url}/explorer#/s/${coin.id}`);
    await page.waitForSelector('#follow [data-follow-status]');
    expect(await page.textContent('#follow [data-follow-status]')).toBe('following');
    expect(await page.textContent('#follow')).toContain(a.url);
    await page.waitForSelector('#rounds tbody tr[data-height="1"]');
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'followed.png'), fullPage: true });
    await page.close();
  }, 60_000);

  test('a subtree the node does not have: the node\'s problem is shown, nothing breaks', async () => {
    const { page, errors } = await openPage(`${site}/explorer#/s/${'ab'.repeat(32)}`);
    await page.waitForSelector('main .error');
    expect(await page.textContent('main .error')).toContain('404 unknown_subtree');
    expect(errors.filter((e) => !e.includes('404'))).toEqual([]);
    await page.close();
  }, 60_000);

  test('narrow screens: the main views fit 390 px without scrolling sideways', async () => {
    const key = `balance/${bob.publicKey}`;
    for (const [name, path, ready] of [
      ['list', '', 'body[data-list-rendered]'],
      ['subtree', `#/s/${coin.id}`, '#rounds tbody tr'],
      ['round', `#/s/${coin.id}/r/1`, '#round-header'],
      ['key', `#/s/${coin.id}/k/${encodeURIComponent(key)}`, '#chain-outcome [data-verdict]'],
      ['tx', `#/tx/${transferId}`, '#tx-status'],
      ['verify', '#/verify', '#paste'],
    ] as const) {
      const { page, errors } = await openPage(`${site}/explorer${path}`, 390);
      await page.waitForSelector(ready, { timeout: 30_000 });
      expect({ name, overflowing: await overflowing(page), errors }).toEqual({ name, overflowing: [], errors: [] });
      await page.screenshot({ path: join(SHOTS, `narrow-${name}.png`), fullPage: true });
      await page.close();
    }
  }, 120_000);
});
