/**
 * Multisig cost, in one run on loopback: a real node process and three real `dstp cosign`
 * processes (each with its own libSQL replica, re-executing every proposal before it signs) on a
 * 2-of-3 multisig subtree, against a PoA subtree (the node signs its own rounds) on the same node.
 *
 *  1. Accept → finality latency (p50/p99), open loop at BENCH_MS_RATE tx/s (default 100) for
 *     BENCH_MS_SECONDS (5) per subtree. Measured on the node's own clock from its database file:
 *     the transaction's accepted_at to the created_at of the final round that executed it (for a
 *     multisig round that is the moment the 2nd signature made it final).
 *  2. Finalized tx/s: BENCH_MS_TXS (10000) pre-signed transactions submitted in batches as fast as
 *     the node takes them; finalized tx / (last finality − first accept), node clock.
 *  3. Overhead versus PoA as ratios from the same run.
 *
 * Run: `bun bench/multisig.ts` (~40 s). Writes bench/results/multisig.json and multisig.md.
 * Env: BENCH_MS_RATE, BENCH_MS_SECONDS, BENCH_MS_TXS, BENCH_MS_COSIGN_INTERVAL (ms, default 10),
 * BENCH_MS_ROUND_INTERVAL (node DSTP_ROUND_INTERVAL_MS, default 200).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, subtreeIdHex, type KeyPair } from '../src/client/index.ts';
import { toHex } from '../src/core/hex.ts';
import { createNodeSigner } from '../src/platform/node-signer.ts';
import { benchDir, BUN, envInt, fmtInt, fmtMs, makeParties, percentile, postJson, REPO_ROOT, RESULTS_DIR, signCall, writeResult, type Party } from './load-client.ts';

const RATE = envInt('BENCH_MS_RATE', 100);
const SECONDS = envInt('BENCH_MS_SECONDS', 5);
const TXS = envInt('BENCH_MS_TXS', 10_000);
const COSIGN_INTERVAL = envInt('BENCH_MS_COSIGN_INTERVAL', 10);
const ROUND_INTERVAL = envInt('BENCH_MS_ROUND_INTERVAL', 200);
const NETWORK = 'dstp-bench';
const ADMIN = 'bench-admin-token-0123456789';
const BATCH = 500;

const dir = benchDir('multisig');
const children: ReturnType<typeof Bun.spawn>[] = [];

async function startNode(nodeKeyHex: string): Promise<string> {
  const proc = Bun.spawn([BUN, 'src/runtime/bun.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      PORT: '0',
      HOST: '127.0.0.1',
      DSTP_DATABASE_URL: `file:${join(dir, 'node.db')}`,
      // The bench measures the accept path itself: the write limits are off, explicitly.
      DSTP_RATE_LIMIT: '0',
      DSTP_SENDER_RATE_LIMIT: '0',
      DSTP_DATA_DIR: dir,
      DSTP_NETWORK: NETWORK,
      DSTP_NODE_KEY: nodeKeyHex,
      DSTP_ADMIN_TOKEN: ADMIN,
      DSTP_ROUND_INTERVAL_MS: String(ROUND_INTERVAL),
      DSTP_LOG: 'error',
      ...(process.env.DSTP_CRYPTO_THREADS ? { DSTP_CRYPTO_THREADS: process.env.DSTP_CRYPTO_THREADS } : {}),
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  children.push(proc);
  const reader = proc.stdout.getReader();
  let buf = '';
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value);
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) {
      reader.releaseLock();
      void proc.stdout.pipeTo(new WritableStream()).catch(() => {});
      return m[1]!;
    }
  }
  throw new Error(`node did not start: ${buf}`);
}

function startCosigner(url: string, subtree: string, key: KeyPair, i: number): ReturnType<typeof Bun.spawn> {
  const file = join(dir, `cosigner-${i}.json`);
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  const proc = Bun.spawn(
    [BUN, 'src/cli/main.ts', 'cosign', '--key', file, '--node', url, '--subtree', subtree, '--db', `file:${join(dir, `cosigner-${i}.db`)}`, '--interval', String(COSIGN_INTERVAL)],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir }, stdout: 'ignore', stderr: 'ignore' },
  );
  children.push(proc);
  return proc;
}

/** Co-signers for `subtree`, started and given time to build their replicas; `stop` ends them. */
async function cosigners(url: string, subtree: string, keys: KeyPair[], base: number): Promise<{ stop(): Promise<void> }> {
  const procs = keys.map((k, i) => startCosigner(url, subtree, k, base + i));
  await Bun.sleep(2000);
  return {
    async stop() {
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => Promise.race([p.exited, Bun.sleep(5000)])));
    },
  };
}

async function createSubtree(url: string, name: string, mode: unknown, signers: KeyPair[], owner: KeyPair): Promise<string> {
  const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name, program: 'kv', config: { writers: 'any' }, mode: mode as never, genesis: [] });
  const r = await postJson(url, '/v1/subtrees', signSubtreeRequest(spec, [owner, ...signers]), { authorization: `Bearer ${ADMIN}` });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return subtreeIdHex(spec);
}

/** accept → finality (ms) for every executed tx of `subtree`, and the first accept / last finality. */
async function finality(subtree: string): Promise<{ lat: number[]; firstAccept: number; lastFinal: number; pending: number }> {
  const c = createClient({ url: `file:${join(dir, 'node.db')}`, concurrency: 1 });
  try {
    const rs = await c.execute({
      sql: `SELECT t.accepted_at, r.created_at FROM txs t JOIN rounds r ON r.subtree = t.subtree AND r.height = t.height
            WHERE t.subtree = ? AND t.status != 'pending' ORDER BY t.seq`,
      args: [subtree],
    });
    const p = await c.execute({ sql: "SELECT count(*) FROM txs WHERE subtree = ? AND status = 'pending'", args: [subtree] });
    const lat = rs.rows.map((r) => Number(r[1]) - Number(r[0]));
    return {
      lat: lat.sort((a, b) => a - b),
      firstAccept: Math.min(...rs.rows.map((r) => Number(r[0]))),
      lastFinal: Math.max(...rs.rows.map((r) => Number(r[1]))),
      pending: Number(p.rows[0]![0]),
    };
  } finally {
    c.close();
  }
}

async function debugRounds(subtree: string): Promise<void> {
  const c = createClient({ url: `file:${join(dir, 'node.db')}`, concurrency: 1 });
  const rs = await c.execute({ sql: 'SELECT height, created_at, status, json_array_length(tx_ids) FROM proposals WHERE subtree = ? ORDER BY created_at', args: [subtree] });
  const rr = await c.execute({ sql: 'SELECT height, created_at FROM rounds WHERE subtree = ? ORDER BY height', args: [subtree] });
  const fin = new Map(rr.rows.map((r) => [Number(r[0]), Number(r[1])]));
  for (const r of rs.rows) console.log(`h${r[0]} proposed ${r[1]} ${r[2]} txs ${r[3]} final after ${(fin.get(Number(r[0])) ?? NaN) - Number(r[1])} ms`);
  c.close();
}

async function waitAllFinal(subtree: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await finality(subtree)).pending === 0) return;
    await Bun.sleep(100);
  }
  throw new Error(`subtree ${subtree} still has pending transactions after ${timeoutMs} ms`);
}

/** Open loop: RATE tx/s for SECONDS, round-robin over senders (each sender's nonces stay in order). */
async function latencyRun(url: string, subtree: string, senders: Party[], tag: string): Promise<number> {
  const n = RATE * SECONDS;
  const nonces = new Array(senders.length).fill(0);
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = i % senders.length;
    bodies.push((await signCall(senders[s]!, { network: NETWORK, subtree, nonce: nonces[s]++, call: 'set', args: { key: `${tag}-${i}`, value: i } })).body);
  }
  const start = performance.now();
  let errors = 0;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    inflight.push(
      fetch(`${url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i]! }).then(async (r) => {
        if (r.status !== 202) {
          errors++;
          if (process.env.BENCH_MS_DEBUG === '1') console.log(r.status, await r.text().catch(() => ''));
        } else await r.arrayBuffer();
      }),
    );
  }
  await Promise.all(inflight);
  await waitAllFinal(subtree, 30_000);
  return errors;
}

/** Closed loop: TXS pre-signed transactions in batches of BATCH, 4 batches in flight. */
async function throughputRun(url: string, subtree: string, senders: Party[]): Promise<number> {
  const per = Math.ceil(TXS / senders.length);
  const batches: string[][] = [];
  let cur: string[] = [];
  // Nonce-major order: every batch holds consecutive nonces of many senders, so batches may be in flight together.
  for (let nonce = 0; nonce < per; nonce++) {
    for (const s of senders) {
      cur.push((await signCall(s, { network: NETWORK, subtree, nonce, call: 'set', args: { key: `t-${s.key.slice(-8)}-${nonce}`, value: nonce } })).body);
      if (cur.length === BATCH) {
        batches.push(cur);
        cur = [];
      }
    }
  }
  if (cur.length) batches.push(cur);
  let errors = 0;
  // Batches go in order (a sender's nonce n+1 must not overtake n); each is one group commit.
  for (const b of batches) {
    const r = await fetch(`${url}/v1/transactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"txs":[${b.join(',')}]}` });
    const body = (await r.json()) as { items: { status: number }[] };
    errors += body.items.filter((x) => x.status !== 202).length;
  }
  await waitAllFinal(subtree, 120_000);
  return errors;
}

const loadBefore = loadavg()[0]!;
const nodeSecret = crypto.getRandomValues(new Uint8Array(32));
const nodeKey = (await createNodeSigner(nodeSecret)).publicKey;
try {
  const url = await startNode(toHex(nodeSecret));
  const owner = generateKey('ed25519');
  const signers = [generateKey('ed25519'), generateKey('ed25519'), generateKey('ed25519')];
  const modeMs = { type: 'multisig', signers: signers.map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 30_000 };
  const results: Record<string, unknown> = {};
  const senders = await makeParties(32);
  const rows: string[] = [];
  const figures: Record<string, { p50: number; p99: number; tps: number }> = {};
  for (const kind of ['poa', 'multisig'] as const) {
    const mode = kind === 'poa' ? { type: 'poa', authority: nodeKey } : modeMs;
    const lat = await createSubtree(url, `${kind}-latency`, mode, kind === 'poa' ? [] : signers.slice(0, 2), owner);
    const tput = await createSubtree(url, `${kind}-throughput`, mode, kind === 'poa' ? [] : signers.slice(0, 2), owner);
    // Only the measured subtree's co-signers run, so idle polling does not load the machine.
    let c = kind === 'multisig' ? await cosigners(url, lat, signers, 0) : null;
    const e1 = await latencyRun(url, lat, senders, kind);
    const l = await finality(lat);
    if (process.env.BENCH_MS_DEBUG === '1') await debugRounds(lat);
    await c?.stop();
    c = kind === 'multisig' ? await cosigners(url, tput, signers, 3) : null;
    const e2 = await throughputRun(url, tput, senders);
    const t = await finality(tput);
    await c?.stop();
    const tps = (t.lat.length * 1000) / Math.max(1, t.lastFinal - t.firstAccept);
    figures[kind] = { p50: percentile(l.lat, 0.5), p99: percentile(l.lat, 0.99), tps };
    results[kind] = { latency: { n: l.lat.length, p50: figures[kind].p50, p99: figures[kind].p99, max: l.lat.at(-1), errors: e1 }, throughput: { n: t.lat.length, txPerSec: tps, errors: e2 } };
    rows.push(`| ${kind} | ${fmtMs(figures[kind].p50)} | ${fmtMs(figures[kind].p99)} | ${fmtInt(tps)} |`);
    console.log(`${kind}: accept→final p50 ${fmtMs(figures[kind].p50)} ms, p99 ${fmtMs(figures[kind].p99)} ms (${l.lat.length} tx at ${RATE}/s); ${fmtInt(tps)} finalized tx/s (${t.lat.length} tx)`);
  }
  const ratio = {
    latencyP50: figures.multisig!.p50 / figures.poa!.p50,
    latencyP99: figures.multisig!.p99 / figures.poa!.p99,
    throughput: figures.poa!.tps / figures.multisig!.tps,
  };
  results.overheadVsPoa = ratio;
  const machine = { cpus: cpus().length, loadavg1mBefore: loadBefore, loadavg1mAfter: loadavg()[0]! };
  results.machine = machine;
  results.config = { rate: RATE, seconds: SECONDS, txs: TXS, cosignIntervalMs: COSIGN_INTERVAL, roundIntervalMs: ROUND_INTERVAL, batch: BATCH, cosigners: 3, threshold: 2 };
  console.log(`overhead vs PoA: latency p50 ×${ratio.latencyP50.toFixed(2)}, p99 ×${ratio.latencyP99.toFixed(2)}; throughput ÷${ratio.throughput.toFixed(2)}`);
  await writeResult('multisig', results);
  writeFileSync(
    join(RESULTS_DIR, 'multisig.md'),
    [
      '# bench/multisig.ts — 2-of-3 multisig with 3 co-signer processes vs PoA, one run, loopback',
      '',
      `Open loop ${RATE} tx/s × ${SECONDS} s for latency (node clock: accepted_at → final round created_at); ${fmtInt(TXS)} txs in batches of ${BATCH} for throughput. Co-signers poll every ${COSIGN_INTERVAL} ms; node round interval ${ROUND_INTERVAL} ms (rounds are also kicked by accepts and finality).`,
      '',
      `Machine: ${machine.cpus} CPUs, 1-min load average ${machine.loadavg1mBefore.toFixed(1)} before / ${machine.loadavg1mAfter.toFixed(1)} after (other work shares the machine; figures move with it).`,
      '',
      '| mode | accept→final p50 (ms) | p99 (ms) | finalized tx/s |',
      '|---|---|---|---|',
      ...rows,
      '',
      `Overhead vs PoA: latency p50 ×${ratio.latencyP50.toFixed(2)}, p99 ×${ratio.latencyP99.toFixed(2)}; throughput PoA/multisig = ${ratio.throughput.toFixed(2)}.`,
      '',
    ].join('\n'),
  );
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => Promise.race([c.exited, Bun.sleep(5000)])));
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
