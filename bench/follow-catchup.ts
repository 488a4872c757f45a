/**
 * Follower catch-up rate (SPEC §12): transactions re-executed per second by a follower replaying
 * a long log, against the origin leader's execution rate for the same log (leader only: every
 * transaction is accepted first, then leader passes run back to back and are timed).
 *
 * The origin runs in this process (createNode without a scheduler, served by Bun.serve); the
 * follower is a node process (`bun src/runtime/bun.ts`) that follows it, timed from the follow
 * request to serving the origin's last round.
 *
 * Run: `bun bench/follow-catchup.ts` (~1 min). Env: BENCH_FOLLOW_TXS (20000); BENCH_FOLLOW_PROFILE=DIR
 * writes the follower's CPU profile (markdown) there. Figures also go to bench/results/follow-catchup.json.
 * CPU time is reported beside wall time: on a shared machine it is the steadier comparison (the
 * leader's is this process's during the passes; the follower's is its process's during the
 * catch-up, read from /proc, so Linux only).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { toHex } from '../src/core/hex.ts';
import { runLeaderPass } from '../src/leader/leader-pass.ts';
import { createNode } from '../src/node.ts';
import { openDatabase } from '../src/store/db.ts';
import { BUN, REPO_ROOT, createTokenSubtree, getJson, makeParties, postJson, signCall, writeResult } from './load-client.ts';

const TXS = Number(process.env.BENCH_FOLLOW_TXS ?? 20_000);
const NETWORK = 'bench-catchup';
const ADMIN = 'bench-catchup-admin-token-0123';
const dir = mkdtempSync(join(tmpdir(), 'dstp-bench-catchup-'));

const config = loadConfig({ DSTP_DATABASE_URL: `file:${join(dir, 'a.db')}`, DSTP_NETWORK: NETWORK, DSTP_ADMIN_TOKEN: ADMIN, DSTP_LOG: 'error', DSTP_OTS_CALENDARS: 'none' });
const A = await createNode(config, { db: await openDatabase({ url: config.databaseUrl }), nodeSecret: crypto.getRandomValues(new Uint8Array(32)), scheduler: false });
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', maxRequestBodySize: 8 * 1024 * 1024, fetch: A.app.fetch });
const aUrl = `http://127.0.0.1:${server.port}`;
try {
  const parties = await makeParties(101);
  const owner = parties[0]!;
  const senders = parties.slice(1);
  const subtree = await createTokenSubtree(aUrl, {
    network: NETWORK,
    adminToken: ADMIN,
    nodeKey: A.ctx.signer.publicKey,
    owner,
    name: 'catchup',
    balances: Object.fromEntries(senders.map((p) => [p.key, 1_000_000])),
  });
  // Accept the whole log first (100 senders, batches of 1000).
  const perSender = Math.ceil(TXS / senders.length);
  for (let n = 0; n < perSender; n += 10) {
    const bodies: string[] = [];
    for (const s of senders) for (let k = n; k < Math.min(n + 10, perSender); k++) bodies.push((await signCall(s, { network: NETWORK, subtree, nonce: k, call: 'transfer', args: { to: owner.key, amount: '1' } })).body);
    const r = await fetch(`${aUrl}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"txs":[${bodies.join(',')}]}` });
    if (r.status !== 202) throw new Error(`batch: ${r.status} ${await r.text()}`);
  }
  const total = perSender * senders.length;
  // The origin's leader alone.
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (;;) {
    const r = await runLeaderPass(A.ctx);
    if (r.idle || r.rounds.length === 0) break;
  }
  const leaderMs = performance.now() - t0;
  const leaderCpu = process.cpuUsage(cpu0);
  const leaderCpuMs = (leaderCpu.user + leaderCpu.system) / 1000;
  const head = await getJson(aUrl, `/v1/subtrees/${subtree}`);

  // The follower replays it all.
  const profile = process.env.BENCH_FOLLOW_PROFILE;
  const proc = Bun.spawn([BUN, ...(profile ? ['--cpu-prof-md', `--cpu-prof-dir=${profile}`] : []), 'src/runtime/bun.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DSTP_DATABASE_URL: `file:${join(dir, 'c.db')}`,
      DSTP_NETWORK: NETWORK,
      DSTP_NODE_KEY: toHex(crypto.getRandomValues(new Uint8Array(32))),
      DSTP_ADMIN_TOKEN: ADMIN,
      DSTP_LOG: 'error',
      DSTP_OTS_CALENDARS: 'none',
      DSTP_PEER_ALLOW_PRIVATE: 'true',
      DSTP_FOLLOW_INTERVAL_MS: '50',
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const reader = proc.stdout.getReader();
  let buf = '';
  let cUrl = '';
  while (!cUrl) {
    const { value, done } = await reader.read();
    if (done) throw new Error('follower did not start');
    buf += new TextDecoder().decode(value);
    cUrl = /listening on (http:\/\/\S+)/.exec(buf)?.[1]?.replace('0.0.0.0', '127.0.0.1') ?? '';
  }
  reader.releaseLock();
  void proc.stdout.pipeTo(new WritableStream()).catch(() => {});
  const t1 = performance.now();
  const c1 = processCpuMs(proc.pid);
  const f = await postJson(cUrl, '/v1/follows', { origin: aUrl, subtree }, { authorization: `Bearer ${ADMIN}` });
  if (f.status !== 201) throw new Error(`follow: ${f.status} ${JSON.stringify(f.body)}`);
  for (;;) {
    const s = await getJson(cUrl, `/v1/follows/${subtree}`);
    if (s.height >= head.height) break;
    if (s.status === 'halted') throw new Error(`halted: ${JSON.stringify(s.halt)}`);
    // Not faster: each poll is a request the follower serves, on its CPU.
    await Bun.sleep(100);
  }
  const followMs = performance.now() - t1;
  const followCpuMs = processCpuMs(proc.pid) - c1;
  proc.kill();
  await proc.exited;
  const leaderRate = total / (leaderMs / 1000);
  const followRate = total / (followMs / 1000);
  console.log('| catch-up, token transfers | txs | rounds | time | tx/s | CPU | tx per CPU-s |');
  console.log('|---|--:|--:|--:|--:|--:|--:|');
  console.log(`| origin leader alone (runLeaderPass back to back) | ${total} | ${head.height} | ${Math.round(leaderMs)} ms | ${Math.round(leaderRate)} | ${Math.round(leaderCpuMs)} ms | ${Math.round(total / (leaderCpuMs / 1000))} |`);
  console.log(`| follower process: fetch, verify, re-execute, commit | ${total} | ${head.height} | ${Math.round(followMs)} ms | ${Math.round(followRate)} | ${Math.round(followCpuMs)} ms | ${Math.round(total / (followCpuMs / 1000))} |`);
  console.log(`ratio follower ÷ leader: ${(followRate / leaderRate).toFixed(2)} by wall time, ${(leaderCpuMs / followCpuMs).toFixed(2)} by CPU time`);
  await writeResult('follow-catchup', { txs: total, rounds: head.height, leaderMs, followMs, leaderRate, followRate, ratio: followRate / leaderRate, leaderCpuMs, followCpuMs, cpuRatio: leaderCpuMs / followCpuMs });
} finally {
  server.stop(true);
  await A.close();
  rmSync(dir, { recursive: true, force: true });
}

/** User + system CPU time (ms) of a process and its threads so far, from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}
