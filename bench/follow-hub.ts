/**
 * Hub scale (SPEC §12 light follows): one node process light-follows (`verify: "headers"`) many
 * subtrees hosted on two other nodes and ingests their pre-built backlog, so the figures are the
 * hub's: hub CPU per ingested round, rounds ingested per second, the checkpoint build over all
 * of them, the hub's database size; then the SDK's chain verification for a value hosted on an
 * origin, through the hub; and the join time of one long subtree, light (the hub) vs full (a
 * fresh follower process).
 *
 * The two origins run in this process (createNode without a scheduler, served by Bun.serve); the
 * backlog is built before the hub starts. Hub CPU is read from /proc (Linux only).
 *
 * Run: `bun bench/follow-hub.ts` (~2–4 min). Env: BENCH_HUB_SUBTREES (1000), BENCH_HUB_ROUNDS (5
 * rounds per subtree after genesis), BENCH_HUB_LONG (1000 rounds of the long subtree);
 * BENCH_HUB_PROFILE=DIR writes the hub's CPU profile (markdown) there. Figures also go to
 * bench/results/follow-hub.json.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchChain, verifyChainResponse } from '../src/client/index.ts';
import { loadConfig } from '../src/config.ts';
import { toHex } from '../src/core/hex.ts';
import { runLeaderPass } from '../src/leader/leader-pass.ts';
import { createNode, type DstpNode } from '../src/node.ts';
import { openDatabase } from '../src/store/db.ts';
import { BUN, REPO_ROOT, createTokenSubtree, envInt, getJson, makeParties, percentile, postJson, signCall, writeResult, type Party } from './load-client.ts';

const SUBTREES = envInt('BENCH_HUB_SUBTREES', 1000);
const ROUNDS = envInt('BENCH_HUB_ROUNDS', 5);
const LONG = envInt('BENCH_HUB_LONG', 1000);
const NETWORK = 'bench-hub';
const ADMIN = 'bench-hub-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'dstp-bench-hub-'));
const admin = { authorization: `Bearer ${ADMIN}` };

interface Origin {
  node: DstpNode;
  server: ReturnType<typeof Bun.serve>;
  url: string;
}

async function startOrigin(name: string): Promise<Origin> {
  // One transaction per round, so a backlog of n transfers to a subtree is n rounds.
  const config = loadConfig({ DSTP_DATABASE_URL: `file:${join(dir, `${name}.db`)}`, DSTP_NETWORK: NETWORK, DSTP_ADMIN_TOKEN: ADMIN, DSTP_LOG: 'error', DSTP_OTS_CALENDARS: 'none', DSTP_MAX_ROUND_TXS: '1' });
  const node = await createNode(config, { db: await openDatabase({ url: config.databaseUrl }), nodeSecret: crypto.getRandomValues(new Uint8Array(32)), scheduler: false });
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', maxRequestBodySize: 8 * 1024 * 1024, fetch: node.app.fetch });
  return { node, server, url: `http://127.0.0.1:${server.port}` };
}

/** Starts a node process; returns its URL, pid and a stop function. */
async function startProcess(name: string, env: Record<string, string> = {}) {
  const profile = name === 'hub' ? process.env.BENCH_HUB_PROFILE : undefined;
  const proc = Bun.spawn([BUN, ...(profile ? ['--cpu-prof-md', `--cpu-prof-dir=${profile}`] : []), 'src/runtime/bun.ts'], {
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
      DSTP_PEER_ALLOW_PRIVATE: 'true',
      // Checkpoints are built on request below, to time one build over every followed head.
      DSTP_CHECKPOINT_INTERVAL_MS: '86400000',
      ...env,
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const reader = proc.stdout.getReader();
  let buf = '';
  let url = '';
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} did not start`);
    buf += new TextDecoder().decode(value);
    url = /listening on (http:\/\/\S+)/.exec(buf)?.[1]?.replace('0.0.0.0', '127.0.0.1') ?? '';
  }
  reader.releaseLock();
  void proc.stdout.pipeTo(new WritableStream()).catch(() => {});
  return { url, pid: proc.pid, db: join(dir, `${name}.db`), stop: async () => (proc.kill(), await proc.exited) };
}

/** User + system CPU (ms) of a process so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

const fileSize = (p: string) => ['', '-wal', '-shm'].reduce((n, s) => n + (statSync(p + s, { throwIfNoEntry: false })?.size ?? 0), 0);

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Sends one transfer per subtree (nonce `nonce` of the owner) in batches, then runs the origin's leader until idle. */
async function roundForAll(o: Origin, owner: Party, ids: readonly string[], nonce: number, to: string): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    const bodies = await Promise.all(ids.slice(i, i + 1000).map(async (subtree) => (await signCall(owner, { network: NETWORK, subtree, nonce, call: 'transfer', args: { to, amount: '1' } })).body));
    const r = await fetch(`${o.url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"txs":[${bodies.join(',')}]}` });
    if (r.status !== 202) throw new Error(`batch: ${r.status} ${await r.text()}`);
  }
  for (;;) {
    const p = await runLeaderPass(o.node.ctx);
    if (p.idle || p.rounds.length === 0) break;
  }
}

const origins = [await startOrigin('a'), await startOrigin('b')];
const stops: (() => Promise<unknown>)[] = [];
try {
  const [owner, other] = await makeParties(2);
  const tb = performance.now();
  const ids: string[][] = [[], []];
  await pool(
    Array.from({ length: SUBTREES }, (_, i) => i),
    8,
    async (i) => {
      const o = origins[i % 2]!;
      ids[i % 2]!.push(await createTokenSubtree(o.url, { network: NETWORK, adminToken: ADMIN, nodeKey: o.node.ctx.signer.publicKey, owner: owner!, name: `s${i}`, balances: { [owner!.key]: 1_000_000 } }));
    },
  );
  for (let r = 0; r < ROUNDS; r++) for (const [k, o] of origins.entries()) await roundForAll(o, owner!, ids[k]!, r, other!.key);
  // The long subtree, on A: LONG rounds of one transfer each.
  const long = await createTokenSubtree(origins[0]!.url, { network: NETWORK, adminToken: ADMIN, nodeKey: origins[0]!.node.ctx.signer.publicKey, owner: owner!, name: 'long', balances: { [owner!.key]: 1_000_000 } });
  for (let n = 0; n < LONG; n += 1000) {
    const bodies = await Promise.all(Array.from({ length: Math.min(1000, LONG - n) }, async (_, k) => (await signCall(owner!, { network: NETWORK, subtree: long, nonce: n + k, call: 'transfer', args: { to: other!.key, amount: '1' } })).body));
    const r = await fetch(`${origins[0]!.url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"txs":[${bodies.join(',')}]}` });
    if (r.status !== 202) throw new Error(`batch: ${r.status} ${await r.text()}`);
  }
  for (;;) {
    const p = await runLeaderPass(origins[0]!.node.ctx);
    if (p.idle || p.rounds.length === 0) break;
  }
  const backlogMs = performance.now() - tb;
  console.log(`backlog: ${SUBTREES} subtrees × ${ROUNDS} rounds on 2 origins, and one of ${LONG} rounds, built in ${Math.round(backlogMs)} ms`);

  // The hub light-follows every subtree.
  const hub = await startProcess('hub');
  stops.push(hub.stop);
  const all = [...ids[0]!.map((id) => [origins[0]!.url, id] as const), ...ids[1]!.map((id) => [origins[1]!.url, id] as const)];
  const c0 = cpuMs(hub.pid);
  const t0 = performance.now();
  const joinLatencies: number[] = [];
  await pool(all, 8, async ([origin, subtree]) => {
    const s = performance.now();
    const r = await postJson(hub.url, '/v1/follows', { origin, subtree, verify: 'headers' }, admin);
    if (r.status !== 201) throw new Error(`follow: ${r.status} ${JSON.stringify(r.body)}`);
    joinLatencies.push(performance.now() - s);
  });
  const joinedMs = performance.now() - t0;
  for (;;) {
    const info = await getJson(hub.url, '/v1/info');
    if (info.follows.halted > 0) throw new Error(`halted: ${JSON.stringify(info.follows)}`);
    if (info.follows.following === SUBTREES) break;
    await Bun.sleep(250);
  }
  const syncMs = performance.now() - t0;
  const syncCpuMs = cpuMs(hub.pid) - c0;
  const rounds = SUBTREES * ROUNDS;
  const c1 = cpuMs(hub.pid);
  const tc = performance.now();
  const cp = await postJson(hub.url, '/v1/checkpoints', {}, admin);
  const checkpointMs = performance.now() - tc;
  const checkpointCpuMs = cpuMs(hub.pid) - c1;
  if (cp.status !== 200 || cp.body.status !== 'built') throw new Error(`checkpoint: ${cp.status} ${JSON.stringify(cp.body)}`);
  const dbBytes = fileSize(hub.db);
  // Idle: the hub with every follow caught up, over 10 s (streams open, follows polled every 10 intervals).
  const ci = cpuMs(hub.pid);
  await Bun.sleep(10_000);
  const idleCpuPerS = (cpuMs(hub.pid) - ci) / 10;

  // The SDK's chain check for values hosted on the origins, through the hub (the hub fetches the
  // state proof from the origin for each request).
  const info = await getJson(hub.url, '/v1/info');
  const fetchMs: number[] = [];
  const verifyMs: number[] = [];
  for (const [, subtree] of all.slice(0, 50)) {
    const f0 = performance.now();
    const chain = await fetchChain(hub.url, subtree, `balance/${other!.key}`, { seq: cp.body.seq });
    fetchMs.push(performance.now() - f0);
    const request = (await getJson(hub.url, `/v1/subtrees/${subtree}`)).request;
    const v0 = performance.now();
    await verifyChainResponse(chain, { key: `balance/${other!.key}`, request, nodeKey: info.publicKey, origin: info.origin, network: NETWORK, expectedValue: String(ROUNDS) });
    verifyMs.push(performance.now() - v0);
  }
  fetchMs.sort((a, b) => a - b);
  verifyMs.sort((a, b) => a - b);

  // Join time of the long subtree: light on the hub, full on a fresh follower.
  const join = async (url: string, verify: 'headers' | 'full') => {
    const s = performance.now();
    const r = await postJson(url, '/v1/follows', { origin: origins[0]!.url, subtree: long, verify }, admin);
    if (r.status !== 201) throw new Error(`follow: ${r.status} ${JSON.stringify(r.body)}`);
    for (;;) {
      const f = await getJson(url, `/v1/follows/${long}`);
      if (f.status === 'halted') throw new Error(`halted: ${JSON.stringify(f.halt)}`);
      if (f.status === 'following' && f.height >= LONG) return performance.now() - s;
      await Bun.sleep(50);
    }
  };
  const cl = cpuMs(hub.pid);
  const lightJoinMs = await join(hub.url, 'headers');
  const lightJoinCpuMs = cpuMs(hub.pid) - cl;
  const full = await startProcess('full');
  stops.push(full.stop);
  const cf = cpuMs(full.pid);
  const fullJoinMs = await join(full.url, 'full');
  const fullJoinCpuMs = cpuMs(full.pid) - cf;

  joinLatencies.sort((a, b) => a - b);
  const out = {
    subtrees: SUBTREES,
    roundsPerSubtree: ROUNDS,
    rounds,
    joinedMs,
    joinP50Ms: percentile(joinLatencies, 0.5),
    syncMs,
    syncCpuMs,
    roundsPerS: rounds / (syncMs / 1000),
    cpuPerRoundUs: (syncCpuMs * 1000) / (rounds + SUBTREES),
    checkpointMs,
    checkpointCpuMs,
    dbBytes,
    idleCpuMsPerS: idleCpuPerS,
    chainFetchP50Ms: percentile(fetchMs, 0.5),
    chainVerifyP50Ms: percentile(verifyMs, 0.5),
    long: LONG,
    lightJoinMs,
    lightJoinCpuMs,
    fullJoinMs,
    fullJoinCpuMs,
  };
  console.log('| hub: light follows of subtrees on 2 other nodes | figure |');
  console.log('|---|--:|');
  console.log(`| subtrees followed / rounds ingested (after genesis) | ${SUBTREES} / ${rounds} |`);
  console.log(`| follows created (POST /v1/follows, 8 at a time) | ${Math.round(joinedMs)} ms (p50 ${out.joinP50Ms.toFixed(1)} ms each) |`);
  console.log(`| first follow request → all following | ${Math.round(syncMs)} ms |`);
  console.log(`| hub CPU for that (joins + sync) | ${Math.round(syncCpuMs)} ms |`);
  console.log(`| hub CPU per ingested round (incl. round 0s) | ${Math.round(out.cpuPerRoundUs)} µs |`);
  console.log(`| rounds ingested per second (wall) | ${Math.round(out.roundsPerS)} |`);
  console.log(`| checkpoint build over ${SUBTREES} changed heads | ${Math.round(checkpointMs)} ms (hub CPU ${Math.round(checkpointCpuMs)} ms) |`);
  console.log(`| hub database size | ${(dbBytes / 1024 / 1024).toFixed(1)} MiB |`);
  console.log(`| hub idle CPU, all caught up | ${idleCpuPerS.toFixed(0)} ms/s |`);
  console.log(`| chain through the hub: GET …/chain/:key p50 (hub fetches the proof from the origin) | ${out.chainFetchP50Ms.toFixed(1)} ms |`);
  console.log(`| SDK verifyChainResponse p50 (offline) | ${out.chainVerifyP50Ms.toFixed(2)} ms |`);
  console.log(`| join a subtree of ${LONG} rounds: light (hub) / full (fresh node) | ${Math.round(lightJoinMs)} ms / ${Math.round(fullJoinMs)} ms |`);
  console.log(`| … follower CPU for that: light / full | ${Math.round(lightJoinCpuMs)} ms / ${Math.round(fullJoinCpuMs)} ms |`);
  await writeResult('follow-hub', out);
} finally {
  for (const s of stops) await s().catch(() => {});
  for (const o of origins) {
    o.server.stop(true);
    await o.node.close();
  }
  rmSync(dir, { recursive: true, force: true });
}
