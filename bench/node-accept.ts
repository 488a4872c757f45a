/**
 * Accepted signed transactions per second through the real node (issue 3), against the same
 * server's plain Hono echo route as the ceiling, in ONE run and with the same client.
 *
 * Setup (untimed): a token subtree run by the node (PoA, authority = node key), 64 senders with
 * genesis balances; every sender's transfers are signed in advance with sequential nonces. The
 * node runs as its own process (bench/echo-server.ts, synchronous=FULL, leader on, default round
 * interval, default crypto threads); this process is the load generator (BENCH_PIN=1 pins the
 * server to core 0 and this process to core 1, which also confines the server's crypto thread).
 * Timed: 64 keep-alive connections, each owning one sender so its nonces arrive in order,
 * closed loop (next request when the last is answered). First the echo route with the same
 * bodies, then POST /v1/transactions. Afterwards: how long the leader needs to execute the
 * backlog, and server CPU time per accepted transaction (all threads). Then the same
 * transactions against two fresh nodes: without the leader (the accept path alone), and with
 * signature work on the serving thread (DSTP_CRYPTO_THREADS=0), for the crypto pool's ratio.
 *
 * Run: `bun bench/node-accept.ts` (~80 s). Env: BENCH_ACCEPT_MS (measured window, default
 * 10000), BENCH_ACCEPT_ALONE_MS (5000) / BENCH_ACCEPT_INLINE_MS (as the main run): the two
 * extra runs, 0 skips, BENCH_CONNECTIONS (64), BENCH_SCHEDULER=0 (no leader: the accept path alone).
 */
import { rmSync } from 'node:fs';
import { toHex } from '../src/core/hex.ts';
import { createNodeSigner } from '../src/platform/node-signer.ts';
import {
  accountKeys,
  benchDir,
  closedLoop,
  createTokenSubtree,
  encodeRequest,
  envInt,
  fetchLoop,
  fmtInt,
  fmtMs,
  makeParties,
  openConnections,
  pinSelf,
  PIN,
  serverStats,
  signCall,
  startBenchServer,
  waitExecuted,
  writeResult,
  type Encoded,
  jsonOf,
  OtherLoad,
  waitQuiet,
} from './load-client.ts';

const CONNECTIONS = envInt('BENCH_CONNECTIONS', 64);
const ACCEPT_MS = envInt('BENCH_ACCEPT_MS', 10_000);
const ECHO_MS = envInt('BENCH_ECHO_MS', 5_000);
const WARMUP_MS = 1_500;
/** Measured window of the leader-off run (0 skips it). */
const ALONE_MS = envInt('BENCH_ACCEPT_ALONE_MS', 5_000);
/** Measured window of the run with signatures on the serving thread, as long as the main run
 * by default: the tree and log grow with the run, so a shorter run would look faster (0 skips). */
const INLINE_MS = envInt('BENCH_ACCEPT_INLINE_MS', ACCEPT_MS);
/**
 * Pre-signed transfers per sender: enough for 12k tx/s (above the 10k target) over the whole
 * accept phase. A faster node runs out early; the rate is then measured up to the last answer
 * and the result says so (`exhausted`).
 */
const PER_SENDER = envInt('BENCH_TXS_PER_SENDER', Math.ceil((12_000 * (ACCEPT_MS + WARMUP_MS)) / 1000 / CONNECTIONS));
const RECIPIENTS = 1024;
const NETWORK = 'dstp-bench';
const ADMIN = 'bench-admin-token-0123456789';

const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(0)} %`);

pinSelf(1);
const dir = benchDir('accept');
const nodeSecret = crypto.getRandomValues(new Uint8Array(32));
const nodeKey = (await createNodeSigner(nodeSecret)).publicKey;
const server = await startBenchServer({
  dir,
  nodeKeyHex: toHex(nodeSecret),
  adminToken: ADMIN,
  network: NETWORK,
  scheduler: process.env.BENCH_SCHEDULER !== '0',
  profileName: 'node-accept',
});
try {
  const base = server.url;
  const host = new URL(base).host;
  console.log(`node-accept: server ${base} (pid ${server.pid}), cpu pinning ${PIN ? 'on' : 'off'}, ${CONNECTIONS} connections`);

  // ---- setup, untimed
  const [owner] = await makeParties(1);
  const senders = await makeParties(CONNECTIONS);
  const recipients = accountKeys(RECIPIENTS);
  const balances = Object.fromEntries(senders.map((s) => [s.key, 1_000_000_000]));
  const subtree = await createTokenSubtree(base, {
    network: NETWORK,
    adminToken: ADMIN,
    nodeKey,
    owner: owner!,
    name: 'bench-accept',
    balances,
  });
  let t = performance.now();
  const txs: Encoded[][] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const list: Encoded[] = [];
    for (let nonce = 0; nonce < PER_SENDER; nonce++) {
      const to = recipients[(c * PER_SENDER + nonce) % RECIPIENTS]!;
      const s = await signCall(senders[c]!, { network: NETWORK, subtree, nonce, call: 'transfer', args: { to, amount: '1' } });
      list.push(encodeRequest(host, { method: 'POST', path: '/v1/transactions', body: s.body }));
    }
    txs.push(list);
  }
  const bodyBytes = txs[0]![0]!.body!.length;
  console.log(`  signed ${fmtInt(CONNECTIONS * PER_SENDER)} transfers in ${((performance.now() - t) / 1000).toFixed(1)} s (body ${bodyBytes} B)`);


  // ---- echo ceiling: the same bodies to POST /bench/echo
  const echo = txs.map((list) => list.slice(0, 64).map((e) => encodeRequest(host, { method: 'POST', path: '/bench/echo', body: e.body! })));
  // Connections are opened after waiting for a quiet machine: Bun.serve drops idle ones after 10 s.
  const quietEcho = await waitQuiet();
  let conns = await openConnections(base, CONNECTIONS);
  const e0 = await serverStats(base);
  let other = new OtherLoad(e0.cpu);
  const clientCpu0 = process.cpuUsage();
  const te = performance.now();
  const echoRaw = await closedLoop(conns, { durationMs: ECHO_MS + 1000, warmupMs: 1000, next: (c, i) => echo[c]![i % 64]!.bytes });
  const echoWall = (performance.now() - te) * 1000;
  const clientCpu = process.cpuUsage(clientCpu0);
  const e1 = await serverStats(base);
  const echoOther = other.share(e1.cpu);
  const echoClientCore = (clientCpu.user + clientCpu.system) / echoWall;
  const echoServerCore = (e1.cpu.user + e1.cpu.system - e0.cpu.user - e0.cpu.system) / echoWall;
  console.log(
    `  echo (raw client):   ${fmtInt(echoRaw.perSec)} req/s  p50 ${fmtMs(echoRaw.p50)} ms  p99 ${fmtMs(echoRaw.p99)} ms  errors ${echoRaw.errors}` +
      `  [server ${pct(echoServerCore)} / client ${pct(echoClientCore)} of one core; other processes: ${pct(echoOther)} of the machine]`,
  );
  const echoFetch = await fetchLoop(base, CONNECTIONS, { durationMs: 2500, warmupMs: 500, next: (c, i) => echo[c]![i % 64]! });
  console.log(`  echo (fetch client): ${fmtInt(echoFetch.perSec)} req/s  (for comparison: the client's own cost)`);

  // ---- accept
  for (const c of conns) c.close();
  const quietAccept = await waitQuiet();
  conns = await openConnections(base, CONNECTIONS);
  const before = await serverStats(base);
  other = new OtherLoad(before.cpu);
  const lastId: (string | undefined)[] = new Array(CONNECTIONS);
  let shownErrors = 0;
  const t0 = performance.now();
  const accept = await closedLoop(conns, {
    durationMs: ACCEPT_MS + WARMUP_MS,
    warmupMs: WARMUP_MS,
    next: (c, i) => txs[c]![i]?.bytes ?? null,
    check: (c, r) => {
      if (r.status !== 202) {
        if (shownErrors++ < 5) console.error(`  accept ${r.status}: ${new TextDecoder().decode(r.body).slice(0, 300)}`);
        return false;
      }
      lastId[c] = jsonOf<{ id: string }>(r).id;
      return true;
    },
  });
  const acceptEnd = performance.now();
  const after = await serverStats(base);
  const acceptOther = other.share(after.cpu);
  const accepted = after.committer.items - before.committer.items;
  const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
  const groups = after.committer.groups - before.committer.groups;
  console.log(
    `  accept:             ${fmtInt(accept.perSec)} tx/s  p50 ${fmtMs(accept.p50)} ms  p99 ${fmtMs(accept.p99)} ms  errors ${accept.errors}` +
      `${accept.exhausted ? '  (ran out of pre-signed txs)' : ''}  [other processes: ${pct(acceptOther)} of the machine]`,
  );
  const ratio = accept.perSec / echoRaw.perSec;
  console.log(`  ratio accept/echo:  ${(ratio * 100).toFixed(1)} %`);
  console.log(
    `  server: ${fmtInt(accepted)} accepted in ${fmtInt(groups)} group commits (avg ${(accepted / Math.max(1, groups)).toFixed(1)}, ` +
      `largest ${after.committer.largestGroup}); CPU ${((cpuMs * 1000) / Math.max(1, accepted)).toFixed(0)} µs per accepted tx ` +
      `(${((cpuMs / (acceptEnd - t0)) * 100).toFixed(0)} % of one core, leader included)`,
  );

  // ---- the leader works off the backlog
  let drainMs: number | null = null;
  if (process.env.BENCH_SCHEDULER !== '0') {
    const waitFor = lastId.filter((x): x is string => x !== undefined);
    const ok = await waitExecuted(base, waitFor, 20_000);
    drainMs = ok ? performance.now() - acceptEnd : null;
    console.log(`  leader: backlog executed ${ok ? `${fmtMs(drainMs!)} ms after the load stopped` : 'NOT within 20 s'}`);
  }
  for (const c of conns) c.close();

  /**
   * The same signed transactions from nonce 0 against a fresh node on its own file (same owner,
   * name and genesis give the same subtree id): the accept path alone (no leader), and the full
   * node with signature work on the serving thread (DSTP_CRYPTO_THREADS=0), for the pool's ratio.
   */
  async function acceptOnFreshNode(label: string, ms: number, o: { scheduler: boolean; env?: Record<string, string> }) {
    const dir2 = benchDir(`accept-${label}`);
    const fresh = await startBenchServer({ dir: dir2, nodeKeyHex: toHex(nodeSecret), adminToken: ADMIN, network: NETWORK, scheduler: o.scheduler, profileName: `node-accept-${label}`, ...(o.env ? { env: o.env } : {}) });
    try {
      const again = await createTokenSubtree(fresh.url, { network: NETWORK, adminToken: ADMIN, nodeKey, owner: owner!, name: 'bench-accept', balances });
      if (again !== subtree) throw new Error('the second node made another subtree id');
      const host2 = new URL(fresh.url).host;
      const retarget = (e: Encoded) => (host2 === host ? e.bytes : encodeRequest(host2, e).bytes);
      await waitQuiet();
      const conns2 = await openConnections(fresh.url, CONNECTIONS);
      const s0 = await serverStats(fresh.url);
      const other2 = new OtherLoad(s0.cpu);
      const run = await closedLoop(conns2, {
        durationMs: ms + 1000,
        warmupMs: 1000,
        next: (c, i) => (txs[c]![i] ? retarget(txs[c]![i]!) : null),
        check: (_c, r) => r.status === 202,
      });
      const s1 = await serverStats(fresh.url);
      const n = s1.committer.items - s0.committer.items;
      const cpuUsPerTx = (s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system) / Math.max(1, n);
      const other = other2.share(s1.cpu);
      for (const c of conns2) c.close();
      console.log(
        `  accept, ${label}: ${fmtInt(run.perSec)} tx/s  p50 ${fmtMs(run.p50)} ms  p99 ${fmtMs(run.p99)} ms  errors ${run.errors}` +
          `; CPU ${cpuUsPerTx.toFixed(0)} µs per tx, avg group ${(n / Math.max(1, s1.committer.groups - s0.committer.groups)).toFixed(1)}  [other processes: ${pct(other)} of the machine]`,
      );
      return { run, cpuUsPerTx, other };
    } finally {
      await fresh.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  }

  let acceptNoLeader = null;
  let aloneCpuUsPerTx: number | null = null;
  let aloneOther: number | null = null;
  if (ALONE_MS > 0 && process.env.BENCH_SCHEDULER !== '0') {
    const r = await acceptOnFreshNode('leader off', ALONE_MS, { scheduler: false });
    acceptNoLeader = r.run;
    aloneCpuUsPerTx = r.cpuUsPerTx;
    aloneOther = r.other;
  }
  let acceptInline = null;
  let inlineCpuUsPerTx: number | null = null;
  let inlineOther: number | null = null;
  if (INLINE_MS > 0 && process.env.BENCH_SCHEDULER !== '0') {
    const r = await acceptOnFreshNode('signatures on the serving thread', INLINE_MS, { scheduler: true, env: { DSTP_CRYPTO_THREADS: '0' } });
    acceptInline = r.run;
    inlineCpuUsPerTx = r.cpuUsPerTx;
    inlineOther = r.other;
  }

  await writeResult('node-accept', {
    acceptNoLeader,
    aloneCpuUsPerTx,
    acceptInline,
    inlineCpuUsPerTx,
    echoCores: { server: echoServerCore, client: echoClientCore },
    otherLoad: { echo: echoOther, accept: acceptOther, alone: aloneOther, inline: inlineOther, idleBeforeEcho: 1 - quietEcho, idleBeforeAccept: 1 - quietAccept },
    connections: CONNECTIONS,
    bodyBytes,
    pinned: PIN,
    echo: echoRaw,
    echoFetch,
    accept,
    ratio,
    serverCpuUsPerTx: (cpuMs * 1000) / Math.max(1, accepted),
    groups,
    avgGroup: accepted / Math.max(1, groups),
    drainMs,
  });
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
