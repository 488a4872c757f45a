/**
 * Follower lag (SPEC §12): from a round becoming final on the origin A to the follower C serving
 * it, on loopback, with C listening to A's event stream and with polling only (a proxy in front of
 * A refuses `…/events`, so C polls every DSTP_FOLLOW_INTERVAL_MS = 1000 ms). Both moments are
 * read from the nodes' own event streams (polled every 5 ms here), which report a round once it
 * is committed: on A when it is final, on C when it is verified and served.
 *
 * Run: `bun bench/follow-lag.ts` (~60 s). Env: BENCH_FOLLOW_ROUNDS (100). Figures also go to
 * bench/results/follow-lag.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { toHex } from '../src/core/hex.ts';
import { BUN, REPO_ROOT, createTokenSubtree, getJson, makeParties, percentile, postJson, signCall, writeResult } from './load-client.ts';

const ROUNDS = Number(process.env.BENCH_FOLLOW_ROUNDS ?? 100);
const NETWORK = 'bench-follow';
const ADMIN = 'bench-follow-admin-token-0123';
const now = () => performance.timeOrigin + performance.now();

interface Proc {
  url: string;
  kill(): void;
}

async function node(dir: string, name: string): Promise<Proc> {
  const proc = Bun.spawn([BUN, 'src/runtime/bun.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DSTP_DATABASE_URL: `file:${join(dir, `${name}.db`)}`,
      DSTP_NETWORK: NETWORK,
      DSTP_NODE_KEY: toHex(crypto.getRandomValues(new Uint8Array(32))),
      DSTP_ADMIN_TOKEN: ADMIN,
      DSTP_LOG: 'error',
      DSTP_OTS_CALENDARS: 'none',
      DSTP_ROUND_INTERVAL_MS: '50',
      DSTP_EVENTS_POLL_MS: '5',
      DSTP_PEER_ALLOW_PRIVATE: 'true',
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const reader = proc.stdout.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} did not start`);
    buf += new TextDecoder().decode(value);
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) {
      reader.releaseLock();
      void proc.stdout.pipeTo(new WritableStream()).catch(() => {});
      return { url: m[1]!.replace('0.0.0.0', '127.0.0.1'), kill: () => proc.kill() };
    }
  }
}

/** Arrival time per height on a node's subtree event stream. */
function watch(url: string, subtree: string, seen: Map<number, number>, signal: AbortSignal): void {
  void (async () => {
    const res = await fetch(`${url}/v1/subtrees/${subtree}/events`, { signal });
    const parser = createParser({ onEvent: (e) => seen.set(Number(e.id), now()) });
    const r = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await r.read();
        if (done) return;
        parser.feed(value);
      }
    } catch {
      // aborted
    }
  })();
}

async function scenario(label: string, polling: boolean): Promise<{ label: string; rounds: number; p50: number; p99: number; max: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dstp-bench-follow-'));
  const [A, C] = await Promise.all([node(dir, 'a'), node(dir, 'c')]);
  const proxy = polling
    ? Bun.serve({
        port: 0,
        hostname: '127.0.0.1',
        async fetch(req) {
          const u = new URL(req.url);
          if (u.pathname.endsWith('/events')) return new Response('no streams here', { status: 404 });
          const res = await fetch(A.url + u.pathname + u.search, { method: req.method, headers: req.headers, ...(req.method === 'GET' ? {} : { body: await req.text() }) });
          return new Response(res.body, { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? '' } });
        },
      })
    : null;
  const ac = new AbortController();
  try {
    const info = await getJson(A.url, '/v1/info');
    const [owner, bob] = await makeParties(2);
    const subtree = await createTokenSubtree(A.url, { network: NETWORK, adminToken: ADMIN, nodeKey: info.publicKey, owner: owner!, name: 'lag', balances: { [owner!.key]: 1_000_000 } });
    const origin = proxy ? `http://127.0.0.1:${proxy.port}` : A.url;
    const f = await postJson(C.url, '/v1/follows', { origin, subtree }, { authorization: `Bearer ${ADMIN}` });
    if (f.status !== 201) throw new Error(`follow: ${f.status} ${JSON.stringify(f.body)}`);
    for (let i = 0; i < 100 && (await getJson(C.url, `/v1/follows/${subtree}`)).status !== 'following'; i++) await Bun.sleep(50);
    const onA = new Map<number, number>();
    const onC = new Map<number, number>();
    watch(A.url, subtree, onA, ac.signal);
    watch(C.url, subtree, onC, ac.signal);
    await Bun.sleep(200);
    for (let n = 0; n < ROUNDS; n++) {
      const t = await signCall(owner!, { network: NETWORK, subtree, nonce: n, call: 'transfer', args: { to: bob!.key, amount: '1' } });
      const r = await fetch(`${A.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: t.body });
      if (r.status !== 202) throw new Error(`submit: ${r.status}`);
      // Spaced so that each transaction is its own round, at random phases of C's poll.
      await Bun.sleep(polling ? 150 + Math.random() * 200 : 120 + Math.random() * 60);
    }
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && [...onA.keys()].some((h) => !onC.has(h))) await Bun.sleep(50);
    const lags = [...onA.entries()].filter(([h]) => onC.has(h)).map(([h, t]) => onC.get(h)! - t).sort((a, b) => a - b);
    return { label, rounds: lags.length, p50: percentile(lags, 0.5), p99: percentile(lags, 0.99), max: lags[lags.length - 1] ?? NaN };
  } finally {
    ac.abort();
    proxy?.stop(true);
    A.kill();
    C.kill();
    await Bun.sleep(200);
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [await scenario('event stream', false), await scenario('polling only (1 s)', true)];
console.log('| follower lag, origin final → served by follower | rounds | p50 ms | p99 ms | max ms |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.rounds} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`);
await writeResult('follow-lag', { rounds: ROUNDS, rows });
