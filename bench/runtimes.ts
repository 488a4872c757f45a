/**
 * Per runtime (Bun, Node bundle, Deno, workerd under `wrangler dev`): cold start to the first
 * `200` of GET /v1/info, and requests/s for GET /v1/info and for a state read with its proof.
 *
 * Cold start = spawn of the command the package script runs → first 200, on a fresh database
 * (migrations included). For workerd that command is `wrangler dev`, so its figure includes
 * wrangler bundling the Worker and starting workerd, not only the isolate: a deployed Worker's
 * cold start is a different (and not measurable here) number. Bun, Node and Deno use a libSQL
 * file; workerd uses the test libSQL server (Hrana over HTTP on 127.0.0.1, in this process).
 *
 * Throughput: a closed loop of `fetch` calls (keep-alive) from this process, `CONNECTIONS` in
 * flight, after a warm-up. Client and server share the machine's 2 cores, so the figures are for
 * comparing runtimes with each other, not absolute capacity (bench/node-accept.ts measures that).
 *
 * `bun bench/runtimes.ts [--quick] [bun node deno workerd]` → bench/results/runtimes.{json,md}.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubtreeRequest, keyFromSecret, signSubtreeRequest, tokenGenesis } from '../src/client/index.ts';
import { sha256 } from '../src/core/hash.ts';
import { toHex, utf8 } from '../src/core/hex.ts';
import { balanceKey } from '../src/core/programs/token.ts';
import { startHranaServer, type HranaServer } from '../test/helpers/hrana-server.ts';
import { availability, launch, REPO_ROOT, RUNTIMES, stopAll, type RuntimeName, type RuntimeNode } from '../test/runtime/runtimes.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--')) as RuntimeName[];
const selected = only.length > 0 ? RUNTIMES.filter((r) => only.includes(r)) : RUNTIMES;

const COLD_RUNS = quick ? 2 : 5;
const COLD_RUNS_WORKERD = quick ? 1 : 3;
const WARMUP_MS = quick ? 500 : 1000;
const MEASURE_MS = quick ? 1500 : 4000;
const CONNECTIONS = 32;
const ADMIN = 'bench-admin-token-0123456789';
const NODE_KEY = toHex(sha256(utf8('dstp bench runtimes node key')));
const ACCOUNTS = 64;

const dir = mkdtempSync(join(tmpdir(), 'dstp-bench-rt-'));
const hranas: HranaServer[] = [];

interface Figures {
  runtime: RuntimeName;
  coldStartMs: number[];
  coldStartMedianMs: number;
  info: Throughput;
  state: Throughput;
}

interface Throughput {
  perSec: number;
  p50: number;
  p99: number;
  errors: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function start(runtime: RuntimeName, tag: string): Promise<RuntimeNode> {
  const db = join(dir, `${runtime}-${tag}.db`);
  const env: Record<string, string> = {
    DSTP_NETWORK: 'dstp-bench',
    DSTP_NODE_KEY: NODE_KEY,
    DSTP_ADMIN_TOKEN: ADMIN,
    DSTP_LOG: 'error',
  };
  if (runtime === 'workerd') {
    const h = startHranaServer({ path: db });
    hranas.push(h);
    env.DSTP_DATABASE_URL = h.url;
  } else {
    env.DSTP_DATABASE_URL = `file:${db}`;
    env.DSTP_DATA_DIR = dir;
  }
  return launch(runtime, { env, timeoutMs: 120_000 });
}

async function closedLoop(url: string, ms: number): Promise<Throughput> {
  const lat: number[] = [];
  let errors = 0;
  const until = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          const res = await fetch(url);
          await res.arrayBuffer();
          if (res.status === 200) lat.push(performance.now() - t);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  return { perSec: lat.length / secs, p50: pct(50), p99: pct(99), errors };
}

async function measure(runtime: RuntimeName): Promise<Figures> {
  const cold: number[] = [];
  const runs = runtime === 'workerd' ? COLD_RUNS_WORKERD : COLD_RUNS;
  for (let i = 0; i < runs; i++) {
    const n = await start(runtime, `cold${i}`);
    cold.push(n.coldStartMs);
    await n.stop();
  }
  const node = await start(runtime, 'load');
  try {
    // A token subtree with ACCOUNTS balances in genesis: a state read walks a real tree.
    const owner = keyFromSecret('ed25519', toHex(sha256(utf8('bench owner'))));
    const info = (await (await fetch(`${node.url}/v1/info`)).json()) as { publicKey: string };
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => keyFromSecret('ed25519', toHex(sha256(utf8(`bench account ${i}`)))).publicKey);
    const spec = buildSubtreeRequest({
      network: 'dstp-bench',
      owner: owner.publicKey,
      name: 'bench',
      program: 'token',
      config: { symbol: 'B', decimals: 0, minter: owner.publicKey },
      mode: { type: 'poa', authority: info.publicKey },
      genesis: tokenGenesis(Object.fromEntries(accounts.map((a) => [a, 100]))),
    });
    const created = await fetch(`${node.url}/v1/subtrees`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify(signSubtreeRequest(spec, [owner])),
    });
    const head = (await created.json()) as { id: string };
    if (created.status !== 201) throw new Error(`subtree creation: ${created.status} ${JSON.stringify(head)}`);
    const stateUrl = `${node.url}/v1/subtrees/${head.id}/state/${balanceKey(accounts[7]!)}`;

    await closedLoop(`${node.url}/v1/info`, WARMUP_MS);
    const infoT = await closedLoop(`${node.url}/v1/info`, MEASURE_MS);
    await closedLoop(stateUrl, WARMUP_MS);
    const stateT = await closedLoop(stateUrl, MEASURE_MS);
    return { runtime, coldStartMs: cold, coldStartMedianMs: median(cold), info: infoT, state: stateT };
  } finally {
    await node.stop();
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')) : 'n/a');

const figures: Figures[] = [];
const skipped: string[] = [];
try {
  for (const r of selected) {
    const a = availability(r);
    if (!a.ok) {
      skipped.push(`${r}: ${a.why}`);
      continue;
    }
    console.error(`[runtimes] ${r} …`);
    figures.push(await measure(r));
  }
} finally {
  await stopAll();
  for (const h of hranas) await h.close();
  rmSync(dir, { recursive: true, force: true });
}

const version = async (cmd: string[]) => {
  try {
    const p = Bun.spawn(cmd, { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'ignore' });
    return (await new Response(p.stdout).text()).trim().split('\n')[0] ?? 'n/a';
  } catch {
    return 'n/a';
  }
};
const bin = (b: string) => join(REPO_ROOT, 'node_modules', '.bin', b);
const versions = {
  bun: Bun.version,
  node: await version(['node', '--version']),
  deno: await version([bin('deno'), '--version']),
  wrangler: await version([bin('wrangler'), '--version']),
};

const table = [
  `| runtime | cold start → first 200 (median of runs) | GET /v1/info req/s (p50 / p99 ms) | state read + proof req/s (p50 / p99 ms) |`,
  '|---|---:|---:|---:|',
  ...figures.map(
    (f) =>
      `| ${f.runtime}${f.runtime === 'workerd' ? ' (wrangler dev, libSQL over HTTP)' : f.runtime === 'node' ? ' (bundle)' : ''} | ${fmt(f.coldStartMedianMs)} ms (${f.coldStartMs.map((x) => Math.round(x)).join(', ')}) | ${fmt(f.info.perSec)} (${fmt(f.info.p50)} / ${fmt(f.info.p99)})${f.info.errors ? `, ${f.info.errors} errors` : ''} | ${fmt(f.state.perSec)} (${fmt(f.state.p50)} / ${fmt(f.state.p99)})${f.state.errors ? `, ${f.state.errors} errors` : ''} |`,
  ),
].join('\n');

const md = [
  '# Runtimes: cold start and requests/s',
  '',
  `- ${new Date().toISOString()}; ${navigator.hardwareConcurrency} cores; bun ${versions.bun}, node ${versions.node}, ${versions.deno}, wrangler ${versions.wrangler}`,
  `- ${CONNECTIONS} concurrent fetch loops from the bench process, ${MEASURE_MS} ms per figure after ${WARMUP_MS} ms warm-up${quick ? ' (--quick)' : ''}`,
  '- cold start: spawn of the start command → first 200 of GET /v1/info on a fresh database; workerd includes wrangler bundling and starting workerd',
  ...(skipped.length ? [`- skipped: ${skipped.join('; ')}`] : []),
  '',
  table,
  '',
].join('\n');

mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
await Bun.write(join(REPO_ROOT, 'bench', 'results', 'runtimes.json'), JSON.stringify({ versions, quick, figures }, null, 2) + '\n');
await Bun.write(join(REPO_ROOT, 'bench', 'results', 'runtimes.md'), md);
console.log(md);
