/**
 * Webhook delivery figures (issue: webhooks):
 *   1. throughput — deliveries/s to fast local receivers (1 endpoint and 5 endpoints, default and
 *      raised per-endpoint concurrency), events committed to the outbox in batches;
 *   2. delay after commit — from the moment a write transaction holding an event has committed
 *      (the promise of `db.write` resolved) to the receiver reading the request, at a steady rate;
 *   3. submit → webhook — a transfer POSTed to the API, executed by the leader in a round, its
 *      `tx.executed` delivered (the whole path at the default 200 ms round interval).
 *
 * The node runs in this process (createNode on a libSQL file, synchronous=FULL as in production);
 * the receivers run in a child process (`--receiver`), so sending and receiving do not share one
 * event loop. Receivers answer 204 at once and stamp each arrival with the wall clock
 * (performance.timeOrigin + performance.now(), the same clock in both processes).
 *
 * Run: `bun bench/webhooks.ts` (~60 s; part of `npm run bench`). Env: BENCH_WH_EVENTS (10000),
 * BENCH_WH_DELAY_MS (5000 per delay scenario). Figures also go to bench/results/webhooks.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import type { JsonValue } from '../src/core/jcs.ts';
import { publicKeyFromSecret } from '../src/core/keys.ts';
import { createNode, type DstpNode } from '../src/node.ts';
import { openDatabase } from '../src/store/db.ts';
import { insertEvents } from '../src/store/events.ts';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction, tokenGenesis } from '../src/client/index.ts';
import { writeResult } from './load-client.ts';

const now = () => performance.timeOrigin + performance.now();
const envInt = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);

// ---------------------------------------------------------------- receiver child process
if (process.argv[2] === '--receiver') {
  const n = Number(process.argv[3] ?? 1);
  const arrivals: [string, number][] = [];
  let count = 0;
  const servers = Array.from({ length: n }, () =>
    Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === '/stats') {
          const out = Response.json({ count, arrivals: url.searchParams.has('arrivals') ? arrivals : [] });
          if (url.searchParams.has('reset')) {
            count = 0;
            arrivals.length = 0;
          }
          return out;
        }
        const at = now();
        const body = await req.text();
        count++;
        // The event's marker without parsing the body: data.m (bench events) or data.tx (rounds).
        const m = /"(?:m|tx)":"([^"]+)"/.exec(body);
        if (m) arrivals.push([m[1]!, at]);
        return new Response(null, { status: 204 });
      },
    }),
  );
  console.log(JSON.stringify({ ports: servers.map((s) => s.port) }));
  await new Promise(() => {});
}

// ---------------------------------------------------------------- main
interface Receivers {
  ports: number[];
  stats(arrivals?: boolean, reset?: boolean): Promise<{ count: number; arrivals: [string, number][] }>;
  stop(): void;
}

async function startReceivers(n: number): Promise<Receivers> {
  const proc = Bun.spawn([process.execPath, import.meta.path, '--receiver', String(n)], { stdout: 'pipe', stderr: 'inherit' });
  const reader = proc.stdout.getReader();
  let buf = '';
  while (!buf.includes('\n')) {
    const { value, done } = await reader.read();
    if (done) throw new Error('receiver process exited');
    buf += new TextDecoder().decode(value);
  }
  const { ports } = JSON.parse(buf.split('\n')[0]!) as { ports: number[] };
  return {
    ports,
    async stats(arrivals = false, reset = false) {
      const q = [arrivals ? 'arrivals' : '', reset ? 'reset' : ''].filter(Boolean).join('&');
      return (await fetch(`http://127.0.0.1:${ports[0]}/stats?${q}`)).json() as Promise<{ count: number; arrivals: [string, number][] }>;
    },
    stop: () => proc.kill(),
  };
}

const ADMIN = 'bench-admin-token-0123456789';

async function startNode(env: Record<string, string>): Promise<{ node: DstpNode; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dstp-bench-wh-'));
  const config = loadConfig({
    DSTP_DATABASE_URL: `file:${join(dir, 'node.db')}`,
    // The bench measures the accept path itself: the write limits are off, explicitly.
    DSTP_RATE_LIMIT: '0',
    DSTP_SENDER_RATE_LIMIT: '0',
    DSTP_ADMIN_TOKEN: ADMIN,
    DSTP_NETWORK: 'dstp-bench',
    DSTP_LOG: 'error',
    DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
    ...env,
  });
  const db = await openDatabase({ url: config.databaseUrl });
  const node = await createNode(config, { db, nodeSecret: new Uint8Array(32).fill(9) });
  return { node, dir };
}

async function api(node: DstpNode, method: string, path: string, json?: unknown): Promise<any> {
  const res = await node.app.request(path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  const body = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function subscribeAll(node: DstpNode, ports: number[], events: string[]): Promise<void> {
  for (const p of ports) await api(node, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:${p}/hook`, events });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function waitCount(r: Receivers, want: number, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while ((await r.stats()).count < want) {
    if (performance.now() > end) throw new Error(`receivers got ${(await r.stats()).count} of ${want}`);
    await Bun.sleep(5);
  }
}

// 1. throughput
async function throughput(endpoints: number, concurrency: number, events: number): Promise<number> {
  const r = await startReceivers(endpoints);
  const { node, dir } = await startNode({ DSTP_WEBHOOK_CONCURRENCY: String(concurrency) });
  try {
    await subscribeAll(node, r.ports, ['tx.executed']);
    for (let i = 0; i < events; i += 500) {
      const batch = Array.from({ length: Math.min(500, events - i) }, (_, j) => ({ type: 'tx.executed', subtree: null, data: { n: i + j } as JsonValue }));
      await node.ctx.db.write((tx) => insertEvents(tx, batch, Date.now()));
    }
    const t0 = performance.now();
    node.ctx.kickWebhooks?.();
    await waitCount(r, events * endpoints, 120_000);
    return (events * endpoints * 1000) / (performance.now() - t0);
  } finally {
    await node.close();
    r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// 2. delay after commit
async function delayAfterCommit(rate: number, perCommit: number, durationMs: number): Promise<number[]> {
  const r = await startReceivers(1);
  const { node, dir } = await startNode({});
  try {
    await subscribeAll(node, r.ports, ['tx.executed']);
    const committed = new Map<string, number>();
    const t0 = performance.now();
    const every = 1000 / rate;
    for (let i = 0; performance.now() - t0 < durationMs; i++) {
      const due = t0 + i * every;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const ms = Array.from({ length: perCommit }, (_, j) => `e${i}-${j}`);
      await node.ctx.db.write((tx) => insertEvents(tx, ms.map((m) => ({ type: 'tx.executed', subtree: null, data: { m } })), Date.now()));
      const t = now();
      for (const m of ms) committed.set(m, t);
      // What the leader does after a round commits (node.ts): wake the worker.
      node.ctx.kickWebhooks?.();
    }
    await waitCount(r, committed.size, 30_000);
    const { arrivals } = await r.stats(true);
    return arrivals.map(([m, at]) => at - committed.get(m)!).sort((a, b) => a - b);
  } finally {
    await node.close();
    r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// 3. submit → webhook through a real round
async function submitToWebhook(count: number, gapMs: number): Promise<number[]> {
  const r = await startReceivers(1);
  const { node, dir } = await startNode({});
  try {
    await subscribeAll(node, r.ports, ['tx.executed']);
    const alice = generateKey('ed25519');
    const bob = generateKey('ed25519');
    const nodeKey = publicKeyFromSecret('ed25519', new Uint8Array(32).fill(9));
    const spec = buildSubtreeRequest({
      network: 'dstp-bench',
      owner: alice.publicKey,
      name: 'wh',
      program: 'token',
      config: { symbol: 'WH', decimals: 0, minter: alice.publicKey },
      mode: { type: 'poa', authority: nodeKey },
      genesis: tokenGenesis({ [alice.publicKey]: 1_000_000n }),
    });
    const st = await api(node, 'POST', '/v1/subtrees', signSubtreeRequest(spec, [alice]));
    const sent = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const { id, envelope } = signTransaction({ network: 'dstp-bench', subtree: st.id, key: alice, nonce: i, call: 'transfer', args: { to: bob.publicKey, amount: '1' } });
      const t = now();
      await api(node, 'POST', '/v1/transactions', envelope);
      sent.set(id, t);
      await Bun.sleep(gapMs);
    }
    await waitCount(r, count, 30_000);
    const { arrivals } = await r.stats(true);
    return arrivals.map(([id, at]) => at - sent.get(id)!).sort((a, b) => a - b);
  } finally {
    await node.close();
    r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const EVENTS = envInt('BENCH_WH_EVENTS', 10_000);
const line = (s: string) => console.log(s);
const ms = (x: number) => Math.round(x * 10) / 10;
const result: {
  delayAfterCommit: { commitsPerSec: number; eventsPerCommit: number; n: number; p50: number; p99: number; max: number }[];
  submitToWebhook: { n: number; p50: number; p99: number };
  throughput: { endpoints: number; concurrency: number; deliveries: number; perSec: number }[];
} = { delayAfterCommit: [], submitToWebhook: { n: 0, p50: NaN, p99: NaN }, throughput: [] };
line(`# webhooks bench (${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}, libSQL file, synchronous=FULL)`);
line('');
line('| scenario | figure |');
line('|---|---|');
for (const [rate, per] of [
  [5, 1],
  [20, 10],
  [50, 5],
] as const) {
  Bun.gc(true);
  const d = await delayAfterCommit(rate, per, envInt('BENCH_WH_DELAY_MS', 5000));
  const r = { commitsPerSec: rate, eventsPerCommit: per, n: d.length, p50: ms(percentile(d, 50)), p99: ms(percentile(d, 99)), max: ms(d[d.length - 1]!) };
  result.delayAfterCommit.push(r);
  line(`| delay commit → receiver: ${rate} commits/s × ${per} events, n=${r.n} | p50 ${r.p50.toFixed(1)} ms · p99 ${r.p99.toFixed(1)} ms · max ${r.max.toFixed(1)} ms |`);
}
const e = await submitToWebhook(200, 20);
result.submitToWebhook = { n: e.length, p50: ms(percentile(e, 50)), p99: ms(percentile(e, 99)) };
line(`| submit (202) → tx.executed delivered (200 ms rounds), n=${e.length} | p50 ${percentile(e, 50).toFixed(0)} ms · p99 ${percentile(e, 99).toFixed(0)} ms |`);
for (const [endpoints, conc] of [
  [1, 4],
  [1, 16],
  [5, 4],
  [5, 16],
] as const) {
  const events = endpoints === 1 ? EVENTS * 2 : EVENTS;
  Bun.gc(true);
  const rate = await throughput(endpoints, conc, events);
  result.throughput.push({ endpoints, concurrency: conc, deliveries: events * endpoints, perSec: Math.round(rate) });
  line(`| throughput: ${endpoints} endpoint(s), concurrency ${conc}, ${events * endpoints} deliveries | ${Math.round(rate)} deliveries/s |`);
}
await writeResult('webhooks', result);
process.exit(0); // the receiver child and sockets are gone; do not wait for stray handles
