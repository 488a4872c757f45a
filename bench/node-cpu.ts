/**
 * Server CPU per operation, in ONE process and without HTTP sockets: the node's app is driven
 * through `app.fetch` with real Requests, so the figures are the node's own work (routing,
 * validation, crypto, SQL, fsync syscalls) without the load generator sharing the cores.
 * For profiling and before/after comparisons on a shared machine; the end-to-end figures stay in
 * node-accept.ts / node-proofs.ts.
 *
 * Phases (each reports process CPU µs per operation, user+system, all threads):
 * 1. accept: N signed transfers from 64 senders, 64 concurrent callers (group commit as in prod);
 * 2. leader: leader passes until the backlog is executed (µs per executed tx);
 * 3. proofs: GET /v1/subtrees/:id/state/:key for random existing keys (µs per proof).
 *
 * Run: `bun bench/node-cpu.ts` (add `--cpu-prof-md` to bun for a profile). Env: BENCH_N (txs, 20000),
 * BENCH_PHASES (accept,leader,proofs), BENCH_PROOFS (20000), BENCH_ROUND_TXS (DSTP_MAX_ROUND_TXS:
 * small rounds show the per-round cost), BENCH_ACCOUNTS (recipients, 1024: more makes a larger tree), BENCH_SYNC=NORMAL, BENCH_STMT_PROF=1 (CPU per SQL text,
 * BEGIN and COMMIT; adds its own overhead).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadConfig } from '../src/config.ts';
import { toHex } from '../src/core/hex.ts';
import { runLeaderPass } from '../src/leader/leader-pass.ts';
import { createNode } from '../src/node.ts';
import { createNodeSigner } from '../src/platform/node-signer.ts';
import { openDatabase } from '../src/store/db.ts';
import { accountKeys, benchDir, createTokenSubtree, envInt, makeParties, signCall } from './load-client.ts';

const N = envInt('BENCH_N', 20_000);
const CONC = 64;
const PROOFS = envInt('BENCH_PROOFS', 20_000);
const phases = new Set((process.env.BENCH_PHASES ?? 'accept,leader,proofs').split(','));
const NETWORK = 'dstp-bench';
const ADMIN = 'bench-admin-token-0123456789';

const dir = benchDir('cpu');
const nodeSecret = crypto.getRandomValues(new Uint8Array(32));
const config = loadConfig({
  DSTP_DATABASE_URL: `file:${dir}/dstp.db`,
  // The bench measures the accept path itself: the write limits are off, explicitly.
  DSTP_RATE_LIMIT: '0',
  DSTP_SENDER_RATE_LIMIT: '0',
  DSTP_DATA_DIR: dir,
  DSTP_NETWORK: NETWORK,
  DSTP_NODE_KEY: toHex(nodeSecret),
  DSTP_ADMIN_TOKEN: ADMIN,
  DSTP_LOG: 'error',
  ...(process.env.BENCH_ROUND_TXS ? { DSTP_MAX_ROUND_TXS: process.env.BENCH_ROUND_TXS } : {}),
});
const db = await openDatabase({ url: config.databaseUrl, ...(process.env.BENCH_SYNC === 'NORMAL' ? { synchronous: 'NORMAL' as const } : {}) });
const STMT_PROF = process.env.BENCH_STMT_PROF === '1';
const stmtCpu = new Map<string, number>();
/** The serving thread's own CPU (µs) where Linux shows it: other threads run during a synchronous COMMIT. */
const threadNow = (() => {
  try {
    readFileSync('/proc/thread-self/schedstat', 'utf8');
    return () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    return () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    };
  }
})();
// CPU spent inside write transactions (the local driver is synchronous, so this is the SQL work).
let writeCpu = 0;
const write = db.write.bind(db);
db.write = (async (fn: Parameters<typeof write>[0]) => {
  const c0 = process.cpuUsage();
  try {
    return await write(
      STMT_PROF
        ? (tx) =>
            fn({
              ...tx,
              execute: (st) => {
                const k = (typeof st === 'string' ? st : st.sql).replace(/\s+/g, ' ').slice(0, 60);
                const a = threadNow();
                const r = tx.execute(st);
                stmtCpu.set(k, (stmtCpu.get(k) ?? 0) + threadNow() - a);
                return r;
              },
              batch: (sts) => tx.batch(sts),
            })
        : fn,
    );
  } finally {
    const d = process.cpuUsage(c0);
    writeCpu += d.user + d.system;
  }
}) as typeof db.write;
const node = await createNode(config, { db, nodeSecret, scheduler: false, webhooks: false, checkpoints: false });
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: node.app.fetch });
const base = `http://127.0.0.1:${server.port}`;
const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * On-CPU time (µs) of this process's threads by kind, from /proc (Linux; empty elsewhere): the
 * serving thread, the crypto threads, and the runtime's own (JIT compilers, GC): short runs pay
 * for compiling the code they exercise, which a long-running node does not.
 */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const comm = readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      const kind = t === String(process.pid) ? 'main' : comm === 'Worker' ? 'crypto' : /JIT|WarmUp/.test(comm) ? 'jit' : 'runtime';
      out.set(kind, (out.get(kind) ?? 0) + ns / 1000);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

function threadSplit(before: Map<string, number>, n: number): string {
  const after = threadCpu();
  if (after.size === 0) return '';
  const per = (k: string) => (((after.get(k) ?? 0) - (before.get(k) ?? 0)) / n).toFixed(1);
  return `; by thread µs/op: main ${per('main')}, crypto ${per('crypto')}, jit ${per('jit')}, other runtime ${per('runtime')}`;
}

if (STMT_PROF) {
  const w = (db as unknown as { writer: { transaction(m: string): Promise<{ commit(): Promise<void> }> } }).writer;
  const tr = w.transaction.bind(w);
  w.transaction = async (m) => {
    const a0 = threadNow();
    const t = await tr(m);
    stmtCpu.set('BEGIN', (stmtCpu.get('BEGIN') ?? 0) + threadNow() - a0);
    const c = t.commit.bind(t);
    t.commit = async () => {
      const a = threadNow();
      await c();
      stmtCpu.set('COMMIT', (stmtCpu.get('COMMIT') ?? 0) + threadNow() - a);
    };
    return t;
  };
}

function showStatements() {
  if (!STMT_PROF) return;
  for (const [k, v] of [...stmtCpu].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  stmtCpu.clear();
}

if (STMT_PROF) {
  // reads outside write transactions, too
  const r = db.read as { execute: (st: unknown) => Promise<unknown> };
  const ex = r.execute.bind(r);
  r.execute = (st) => {
    const k = 'read: ' + (typeof st === 'string' ? st : (st as { sql: string }).sql).replace(/\s+/g, ' ').slice(0, 54);
    const a = threadNow();
    const res = ex(st);
    stmtCpu.set(k, (stmtCpu.get(k) ?? 0) + threadNow() - a);
    return res;
  };
}

try {
  const nodeKey = (await createNodeSigner(nodeSecret)).publicKey;
  const [owner] = await makeParties(1);
  const senders = await makeParties(CONC);
  const recipients = accountKeys(envInt('BENCH_ACCOUNTS', 1024));
  const subtree = await createTokenSubtree(base, {
    network: NETWORK,
    adminToken: ADMIN,
    nodeKey,
    owner: owner!,
    name: 'cpu',
    balances: Object.fromEntries(senders.map((s) => [s.key, 1_000_000_000])),
  });
  const per = Math.ceil(N / CONC);
  const bodies: string[][] = [];
  for (let c = 0; c < CONC; c++) {
    const list: string[] = [];
    for (let nonce = 0; nonce < per; nonce++) {
      const to = recipients[(c * per + nonce) % recipients.length]!;
      list.push((await signCall(senders[c]!, { network: NETWORK, subtree, nonce, call: 'transfer', args: { to, amount: '1' } })).body);
    }
    bodies.push(list);
  }
  const url = `${base}/v1/transactions`;
  const headers = { 'content-type': 'application/json' };

  if (phases.has('accept')) {
    // warm-up: the first 5% (BENCH_WARMUP_PCT) untimed
    const warm = Math.floor((per * envInt('BENCH_WARMUP_PCT', 5)) / 100);
    const run = async (from: number, to: number) => {
      let bad = 0;
      await Promise.all(
        bodies.map(async (list) => {
          for (let i = from; i < to; i++) {
            const res = await node.app.fetch(new Request(url, { method: 'POST', headers, body: list[i]! }));
            if (res.status !== 202) {
              if (bad++ < 3) console.error(res.status, await res.text());
            } else await res.arrayBuffer();
          }
        }),
      );
      return bad;
    };
    await run(0, warm);
    const s0 = node.ctx.committer.stats.items;
    const th0 = threadCpu();
    const c0 = cpuNow();
    const t0 = performance.now();
    const w0 = writeCpu;
    const bad = await run(warm, per);
    const wall = performance.now() - t0;
    const wcpu = writeCpu - w0;
    const n = node.ctx.committer.stats.items - s0;
    console.log(
      `accept: ${n} tx, ${((cpuNow() - c0) / n).toFixed(1)} µs CPU/tx, ${((n / wall) * 1000).toFixed(0)} tx/s in-process, ` +
        `avg group ${(node.ctx.committer.stats.items / node.ctx.committer.stats.groups).toFixed(1)}, errors ${bad}; ` +
        `in write transactions ${(wcpu / n).toFixed(1)} µs/tx${threadSplit(th0, n)}`,
    );
  }

  showStatements();
  if (phases.has('leader')) {
    const th0 = threadCpu();
    const c0 = cpuNow();
    const w0 = writeCpu;
    const t0 = performance.now();
    let executed = 0;
    let rounds = 0;
    for (;;) {
      const r = await runLeaderPass(node.ctx);
      const n = r.rounds.reduce((s, x) => s + x.txCount, 0);
      if (n === 0) break;
      executed += n;
      rounds += r.rounds.length;
    }
    const wall = performance.now() - t0;
    console.log(
      `leader: ${executed} tx in ${rounds} rounds, ${((cpuNow() - c0) / Math.max(1, executed)).toFixed(1)} µs CPU/tx, ` +
        `${((executed / wall) * 1000).toFixed(0)} tx/s; in write transactions ${((writeCpu - w0) / Math.max(1, executed)).toFixed(1)} µs/tx${threadSplit(th0, Math.max(1, executed))}`,
    );
    // What the database holds now (pages in the WAL included): the storage layout's footprint.
    const pages = Number((await db.read.execute('PRAGMA page_count')).rows[0]![0]) * Number((await db.read.execute('PRAGMA page_size')).rows[0]![0]);
    console.log(`db: ${(pages / 1e6).toFixed(2)} MB after ${rounds} rounds`);
  }

  showStatements();
  if (phases.has('proofs')) {
    const keys = [...senders.map((s) => s.key), ...recipients].map((k) => `bal/${k}`);
    const paths = keys.map((k) => `${base}/v1/subtrees/${subtree}/state/${encodeURIComponent(k)}`);
    let i = 0;
    const run = async (count: number) => {
      let bad = 0;
      await Promise.all(
        Array.from({ length: CONC }, async () => {
          while (i < count) {
            const p = paths[i++ % paths.length]!;
            const res = await node.app.fetch(new Request(p));
            if (res.status !== 200) {
              if (bad++ < 3) console.error(res.status, await res.text());
            } else await res.arrayBuffer();
          }
        }),
      );
      return bad;
    };
    await run(2000);
    i = 0;
    const th0 = threadCpu();
    const c0 = cpuNow();
    const t0 = performance.now();
    const bad = await run(PROOFS);
    const wall = performance.now() - t0;
    showStatements();
    console.log(`proofs: ${PROOFS}, ${((cpuNow() - c0) / PROOFS).toFixed(1)} µs CPU/proof, ${((PROOFS / wall) * 1000).toFixed(0)}/s, errors ${bad}${threadSplit(th0, PROOFS)}`);
  }
} finally {
  server.stop(true);
  await node.close();
  rmSync(dir, { recursive: true, force: true });
}
