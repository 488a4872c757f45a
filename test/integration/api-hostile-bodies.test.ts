import { afterAll, beforeAll, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { call, party, signedTx, startServerProcess, type TestServer } from '../helpers/server.ts';

/**
 * Hostile bodies against a real node process: memory stays flat while eight of them are in
 * flight (the checks run while the body streams in, before anything is parsed), every one gets a
 * problem+json 4xx, and a client that gives up mid-body is not logged as a failure of the node.
 */
let s: TestServer;
const MiB = 1024 * 1024;

beforeAll(async () => {
  s = await startServerProcess({ env: { DSTP_LOG: 'info' } });
});

afterAll(async () => {
  await s?.close();
});

const rssBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(s.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

const alice = party('hostile-alice');
const validTx = () =>
  signedTx(alice, { network: s.network, subtree: 'ab'.repeat(32), nonce: 0, call: 'set', args: { key: 'k', value: 1 } });

const hostile: { name: string; path: string; body: () => string; code: string; status: number }[] = [
  { name: '2M nested arrays', path: '/v1/transactions/batch', body: () => '['.repeat(2 * MiB) + ']'.repeat(2 * MiB - 4096), code: 'too_deeply_nested', status: 400 },
  { name: '1M empty objects', path: '/v1/transactions/batch', body: () => `{"txs":[${'{},'.repeat(1_300_000)}{}]}`, code: 'too_many_values', status: 400 },
  { name: '1M numbers', path: '/v1/transactions/batch', body: () => `{"txs":[${'1,'.repeat(1_900_000)}1]}`, code: 'too_many_values', status: 400 },
  {
    name: 'a 4 MiB string with a duplicate key after it',
    path: '/v1/transactions/batch',
    body: () => `{"txs":[${JSON.stringify(validTx())}],"pad":"${'z'.repeat(4 * MiB - 2048)}","txs":[]}`,
    code: 'duplicate_key',
    status: 400,
  },
  { name: 'over 4 MiB', path: '/v1/transactions/batch', body: () => `{"pad":"${'z'.repeat(5 * MiB)}"}`, code: 'payload_too_large', status: 413 },
];

test('eight hostile bodies at a time: memory grows by less than 64 MiB beyond the bodies, all get 4xx problem+json', async () => {
  const pid = s.pid!;
  // Warm up the paths the attack takes, so the baseline includes what any request allocates once.
  for (const h of hostile) expect((await post(h.path, h.body())).status).toBe(h.status);
  Bun.gc(true);
  await Bun.sleep(200);
  const base = rssBytes(pid);
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 2);
  try {
    for (const h of hostile) {
      const body = h.body();
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(h.path, body)));
      for (const r of answers) {
        expect(r.status).toBe(h.status);
        expect(r.headers.get('content-type')).toBe('application/problem+json');
        expect(((await r.json()) as { code: string }).code).toBe(h.code);
      }
    }
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, rssBytes(pid));
  const growth = peak - base;
  console.log(`node RSS ${(base / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB) under eight hostile 4 MiB bodies at a time`);
  // Eight bodies of at most 4 MiB each are held while they stream in; beyond them, < 64 MiB.
  expect(growth).toBeLessThan(8 * 4 * MiB + 64 * MiB);
  const info = await call(s.url, 'GET', '/v1/info');
  expect(info.status).toBe(200);
}, 120_000);

test('a chunked body over the limit (no content-length) gets 413 problem+json from the app', async () => {
  const chunk = new TextEncoder().encode('[' + '0,'.repeat(32 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (sent++ > 10) ctrl.close();
      else ctrl.enqueue(chunk);
    },
  });
  const r = await fetch(s.url + '/v1/transactions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  expect(r.status).toBe(413);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(((await r.json()) as { code: string }).code).toBe('payload_too_large');
});

test('a client that aborts mid-body leaves no error line in the log, and the node keeps serving', async () => {
  // A node of its own: the bodies above were answered before they were read whole, and a
  // graceful stop waits for those uploads; this test reads the log after a stop.
  const n = await startServerProcess({ env: { DSTP_LOG: 'info' } });
  const { host, port } = new URL(n.url);
  for (let i = 0; i < 3; i++) {
    // A raw socket announces 100,000 bytes, sends a few, then goes away.
    const socket = connect({ host: host.split(':')[0]!, port: Number(port) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(`POST /v1/transactions/batch HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"txs":[`);
    await Bun.sleep(50);
    socket.destroy();
  }
  await Bun.sleep(200);
  expect((await call(n.url, 'GET', '/v1/info')).status).toBe(200);
  await n.close();
  const log = await n.stderr!;
  expect(log).toContain('"msg":"dstp listening"');
  expect(log.split('\n').filter((l) => l.includes('"level":"error"'))).toEqual([]);
}, 30_000);
