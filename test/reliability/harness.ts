/**
 * Reliability harness: real node processes (`bun src/runtime/bun.ts`) on real libSQL files in a
 * temp directory, bound to 127.0.0.1, that a test may SIGKILL, SIGSTOP or restart on the same file.
 * test/helpers/server.ts owns its temp dir and offers no kill -9 / restart on a kept file, so the
 * reliability tests use this one. Every wait here is bounded in time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client, type InValue } from '@libsql/client';
import { buildSubtreeRequest, signSubtreeRequest, signTransaction, tokenGenesis, type KeyPair } from '../../src/client/index.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import type { SubtreeSpec } from '../../src/core/subtree-request.ts';
import type { Tx, TxEnvelope } from '../../src/core/tx.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const BUN = join(REPO_ROOT, 'node_modules', '.bin', 'bun');
export const NETWORK = 'dstp-rel';
export const ADMIN_TOKEN = 'reliability-admin-token-0123456789';

// ---------- temp dirs and processes, cleaned up by cleanupAll() ----------

const dirs = new Set<string>();
const procs = new Set<NodeProc>();

export function tempDir(prefix = 'dstp-rel-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** For afterAll: SIGKILL every child still alive, then remove the temp dirs. */
export async function cleanupAll(): Promise<void> {
  for (const p of procs) if (p.alive()) p.proc.kill('SIGKILL');
  await Promise.all([...procs].map((p) => Promise.race([p.proc.exited, Bun.sleep(3000)])));
  procs.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export interface NodeOptions {
  dbPath: string;
  /** 64 hex; processes sharing a database share it so the PoA authority is the same. */
  nodeKeyHex: string;
  roundIntervalMs?: number;
  leaseTtlMs?: number;
  maxRoundTxs?: number;
  log?: 'silent' | 'error' | 'info' | 'debug';
  env?: Record<string, string>;
}

export interface NodeProc {
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  pid: number;
  alive(): boolean;
  /** What the child wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** SIGKILL and wait for the exit (bounded). */
  kill9(): Promise<void>;
  /** SIGTERM (graceful: drains, releases the lease), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function spawnNode(o: NodeOptions): Promise<NodeProc> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: '0',
    HOST: '127.0.0.1',
    DSTP_DATABASE_URL: `file:${o.dbPath}`,
    // Load from one address: the write limits are off here (tests of the limits turn them on).
    DSTP_RATE_LIMIT: '0',
    DSTP_SENDER_RATE_LIMIT: '0',
    DSTP_NETWORK: NETWORK,
    DSTP_NODE_KEY: o.nodeKeyHex,
    DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
    DSTP_ROUND_INTERVAL_MS: String(o.roundIntervalMs ?? 50),
    DSTP_LEASE_TTL_MS: String(o.leaseTtlMs ?? 1000),
    DSTP_MAX_ROUND_TXS: String(o.maxRoundTxs ?? 5000),
    DSTP_LOG: o.log ?? 'error',
    // No OpenTimestamps calendars: reliability tests never reach the network.
    DSTP_OTS_CALENDARS: 'none',
    ...o.env,
  };
  const proc = Bun.spawn([BUN, 'src/runtime/bun.ts'], { cwd: REPO_ROOT, env, stdout: 'pipe', stderr: 'pipe' });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  let errText = '';
  void drain(proc.stderr as ReadableStream<Uint8Array>, (s) => {
    errText = (errText + s).slice(-20_000);
  });
  const node: NodeProc = {
    url: '',
    proc,
    pid: proc.pid,
    alive: () => !exited,
    stderr: () => errText,
    async kill9() {
      if (!exited) proc.kill('SIGKILL');
      await Promise.race([proc.exited, Bun.sleep(5000)]);
    },
    async stop(graceMs = 5000) {
      if (exited) return;
      proc.kill('SIGTERM');
      const r = await Promise.race([proc.exited, Bun.sleep(graceMs).then(() => null)]);
      if (r === null) await node.kill9();
    },
  };
  procs.add(node);
  try {
    node.url = await listeningUrl(proc.stdout as ReadableStream<Uint8Array>, 20_000);
  } catch (err) {
    await node.kill9();
    throw new Error(`node did not start: ${String(err)}\nstderr:\n${errText}`);
  }
  return node;
}

async function drain(stream: ReadableStream<Uint8Array>, onText: (s: string) => void): Promise<void> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onText(dec.decode(value, { stream: true }));
    }
  } catch {
    // the child died; nothing more to read
  }
}

async function listeningUrl(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
    if (next === null || next.done) break;
    buf += dec.decode(next.value, { stream: true });
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) {
      reader.releaseLock();
      // Keep reading so the child never blocks on a full stdout pipe.
      void drain(stream, () => {});
      return m[1]!;
    }
  }
  throw new Error(`no "listening on" line within ${timeoutMs} ms; stdout: ${buf}`);
}

// ---------- HTTP ----------

export interface Res<T = any> {
  status: number;
  body: T;
}

/** One JSON request with a deadline; network errors and timeouts throw. */
export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { json?: unknown; admin?: boolean; timeoutMs?: number } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = {};
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  if (opts.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
  const res = await fetch(base + path, {
    method,
    headers,
    ...(opts.json !== undefined ? { body: JSON.stringify(opts.json) } : {}),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the failure message
  }
  return { status: res.status, body: body as T };
}

// ---------- building signed requests with the client SDK ----------

export interface TokenSubtree {
  id: string;
  spec: SubtreeSpec;
  supply: bigint;
}

/** Creates a PoA token subtree whose authority is the node key (the node co-signs for the admin). */
export async function createTokenSubtree(
  base: string,
  o: { owner: KeyPair; authority: string; name: string; balances: Record<string, bigint> },
): Promise<TokenSubtree> {
  const spec = buildSubtreeRequest({
    network: NETWORK,
    owner: o.owner.publicKey,
    name: o.name,
    program: 'token',
    config: { symbol: 'REL', decimals: 0, minter: o.owner.publicKey },
    mode: { type: 'poa', authority: o.authority },
    genesis: tokenGenesis(o.balances),
  });
  const body = signSubtreeRequest(spec, [o.owner]);
  const res = await http(base, 'POST', '/v1/subtrees', { json: body, admin: true });
  if (res.status !== 201) throw new Error(`subtree creation: ${res.status} ${JSON.stringify(res.body)}`);
  const supply = Object.values(o.balances).reduce((a, b) => a + b, 0n);
  return { id: res.body.id as string, spec, supply };
}

export function transfer(
  subtree: string,
  from: KeyPair,
  nonce: number,
  to: string,
  amount: string,
): { id: string; envelope: TxEnvelope } {
  return signTransaction({ network: NETWORK, subtree, key: from, nonce, call: 'transfer', args: { to, amount } as Record<string, JsonValue> });
}

// ---------- reading the database file directly ----------

/**
 * A separate connection to a node's database file for checks (SELECT only; query_only makes a
 * stray write fail). WAL lets it read while the node writes.
 */
export async function openReader(dbPath: string): Promise<{ all(sql: string, args?: InValue[]): Promise<Record<string, unknown>[]>; close(): void }> {
  const client: Client = createClient({ url: `file:${dbPath}`, concurrency: 1 });
  await client.execute('PRAGMA query_only = ON');
  await client.execute('PRAGMA busy_timeout = 5000');
  return {
    async all(sql, args = []) {
      const rs = await client.execute({ sql, args });
      return rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
    },
    close: () => client.close(),
  };
}

export interface LogRow {
  id: string;
  seq: number;
  sender: string;
  nonce: number;
  status: string;
  height: number | null;
  idx: number | null;
  code: string | null;
  /** The transaction as logged (transfers only in these tests). */
  tx: Tx & { args: { to: string; amount: string } };
}

export interface RoundRow {
  height: number;
  hash: string;
  header: Record<string, unknown>;
  signatures: { signer: string; sig: string }[];
  txIds: string[];
  status: string;
}

/** The subtree's whole log in seq order and all its rounds in height order, in one snapshot. */
export async function readLedger(
  dbPath: string,
  subtree: string,
): Promise<{ log: LogRow[]; rounds: RoundRow[]; logSize: number; height: number; request: unknown }> {
  const r = await openReader(dbPath);
  try {
    const [txRows, roundRows, head] = [
      await r.all('SELECT id, seq, sender, nonce, status, height, idx, code, body FROM txs WHERE subtree = ? ORDER BY seq', [subtree]),
      await r.all('SELECT height, hash, header, signatures, tx_ids, status FROM rounds WHERE subtree = ? ORDER BY height', [subtree]),
      await r.all('SELECT log_size, height, request FROM subtrees WHERE id = ?', [subtree]),
    ];
    return {
      log: txRows.map((t) => ({
        id: String(t.id),
        seq: Number(t.seq),
        sender: String(t.sender),
        nonce: Number(t.nonce),
        status: String(t.status),
        height: t.height === null ? null : Number(t.height),
        idx: t.idx === null ? null : Number(t.idx),
        code: t.code === null ? null : String(t.code),
        tx: (JSON.parse(String(t.body)) as { tx: LogRow['tx'] }).tx,
      })),
      rounds: roundRows.map((x) => ({
        height: Number(x.height),
        hash: String(x.hash),
        header: JSON.parse(String(x.header)) as Record<string, unknown>,
        signatures: JSON.parse(String(x.signatures)) as RoundRow['signatures'],
        txIds: JSON.parse(String(x.tx_ids)) as string[],
        status: String(x.status),
      })),
      logSize: Number(head[0]?.log_size ?? -1),
      height: Number(head[0]?.height ?? -1),
      request: head[0] ? JSON.parse(String(head[0].request)) : null,
    };
  } finally {
    r.close();
  }
}

/** The subtree head's height (latest final round), read from the file without asking a node. */
export async function headHeight(dbPath: string, subtree: string): Promise<number> {
  const r = await openReader(dbPath);
  try {
    const rows = await r.all('SELECT height FROM subtrees WHERE id = ?', [subtree]);
    return Number(rows[0]?.height ?? -1);
  } finally {
    r.close();
  }
}

/**
 * Waits (bounded) until every thread of `pid` is stopped: state T or t in /proc. kill() only
 * queues SIGSTOP, and a thread inside a system call (taking a file lock, say) finishes it first.
 * A test that freezes a node while it holds SQLite's write lock must keep the lock until then, or
 * the node can take the lock in that instant and keep it while frozen, stalling every process.
 * With `group`, every process of the process group `pid` (a runtime started under setsid).
 */
export async function waitStopped(pid: number, opts: { group?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const deadline = performance.now() + (opts.timeoutMs ?? 2000);
  const statFields = (path: string): string[] | null => {
    try {
      const stat = readFileSync(path, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' '); // [state, ppid, pgrp, …]
    } catch {
      return null; // ended meanwhile
    }
  };
  const numeric = (dir: string): string[] => {
    try {
      return readdirSync(dir).filter((d) => /^\d+$/.test(d));
    } catch {
      return [];
    }
  };
  for (;;) {
    const pids = opts.group ? numeric('/proc').filter((p) => statFields(`/proc/${p}/stat`)?.[2] === String(pid)) : [String(pid)];
    const running = pids.some((p) =>
      numeric(`/proc/${p}/task`).some((t) => {
        const state = statFields(`/proc/${p}/task/${t}/stat`)?.[0];
        return state !== undefined && state !== 'T' && state !== 't';
      }),
    );
    if (!running) return; // stopped, gone, or no /proc here
    if (performance.now() > deadline) throw new Error(`process ${pid} did not stop within ${opts.timeoutMs ?? 2000} ms of SIGSTOP`);
    await Bun.sleep(1);
  }
}

/**
 * SIGSTOPs a node while it is NOT inside a write transaction: the test takes SQLite's write lock
 * itself first (waiting for any writer to finish), freezes the process, then lets go. A process
 * frozen while holding the lock would stall every process on the file until it wakes.
 */
export async function freezeOutsideWrite(dbPath: string, node: NodeProc): Promise<number> {
  const client = createClient({ url: `file:${dbPath}`, concurrency: 1 });
  try {
    await client.execute('PRAGMA busy_timeout = 10000');
    const tx = await client.transaction('write');
    try {
      node.proc.kill('SIGSTOP');
      // The moment of the freeze (performance.now()): time a stall from here, not from before the
      // wait for the write lock, which under load can itself take hundreds of ms.
      const at = performance.now();
      await waitStopped(node.pid);
      return at;
    } finally {
      await tx.rollback();
      tx.close();
    }
  } finally {
    client.close();
  }
}

/**
 * Simulates a slow machine (CPU quota, noisy neighbour): the process runs `runMs`, then is frozen
 * `frozenMs`, over and over, for at most `maxMs`. Wall-clock time (and so the lease) keeps going
 * while the process gets a fraction of it. `stop()` always leaves the process running.
 */
export function throttle(node: NodeProc, o: { runMs: number; frozenMs: number; maxMs: number }): { stop(): Promise<void> } {
  let on = true;
  const until = performance.now() + o.maxMs;
  const loop = (async () => {
    while (on && performance.now() < until && node.alive()) {
      node.proc.kill('SIGSTOP');
      await Bun.sleep(o.frozenMs);
      node.proc.kill('SIGCONT');
      await Bun.sleep(o.runMs);
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      if (node.alive()) node.proc.kill('SIGCONT');
    },
  };
}

/**
 * Takes the leader lease away from every node (a foreign holder, far in the future) or gives it
 * back. A node the test freezes and thaws may hold the write lock through many of its frozen
 * spells, so a busy database is retried (three waits of 10 s) before the test gives up.
 */
export async function blockLease(dbPath: string, blocked: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await setLeaseBlocked(dbPath, blocked);
    } catch (err) {
      if (attempt === 3 || !String((err as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw err;
    }
  }
}

async function setLeaseBlocked(dbPath: string, blocked: boolean): Promise<void> {
  const client = createClient({ url: `file:${dbPath}`, concurrency: 1 });
  try {
    await client.execute('PRAGMA busy_timeout = 10000');
    if (blocked) {
      await client.execute({
        sql: `INSERT INTO lease (name, holder, token, expires_at) VALUES ('leader', 'test-blocker', 1, ?)
              ON CONFLICT (name) DO UPDATE SET holder = 'test-blocker', token = lease.token + 1, expires_at = excluded.expires_at`,
        args: [Date.now() + 3_600_000],
      });
    } else {
      await client.execute("UPDATE lease SET expires_at = 0 WHERE name = 'leader' AND holder = 'test-blocker'");
    }
  } finally {
    client.close();
  }
}

/**
 * Another process takes SQLite's write lock on the file and keeps it `ms` (a stuck writer, a
 * backup tool, an operator's sqlite3 shell). Resolves once the lock is held; `released` resolves
 * when the holder has let go and exited.
 */
export async function holdWriteLock(dbPath: string, ms: number): Promise<{ released: Promise<void> }> {
  const script = `
    import { createClient } from '@libsql/client';
    const c = createClient({ url: ${JSON.stringify(`file:${dbPath}`)}, concurrency: 1 });
    await c.execute('PRAGMA busy_timeout = 10000');
    const tx = await c.transaction('write');
    console.log('locked');
    await Bun.sleep(${Math.trunc(ms)});
    await tx.rollback();
    c.close();`;
  const proc = Bun.spawn([BUN, '-e', script], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe' });
  const holder: NodeProc = {
    url: '',
    proc,
    pid: proc.pid,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    stderr: () => '',
    kill9: async () => void proc.kill('SIGKILL'),
    stop: async () => void proc.kill('SIGKILL'),
  };
  procs.add(holder);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let out = '';
  const deadline = Date.now() + 15_000;
  while (!out.includes('locked') && Date.now() < deadline) {
    const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
    if (next === null || next.done) break;
    out += dec.decode(next.value);
  }
  if (!out.includes('locked')) {
    proc.kill('SIGKILL');
    throw new Error(`lock holder did not take the lock: ${out}`);
  }
  return { released: proc.exited.then(() => undefined) };
}

export async function countPending(dbPath: string, subtree: string): Promise<number> {
  const r = await openReader(dbPath);
  try {
    const rows = await r.all("SELECT count(*) AS n FROM txs WHERE subtree = ? AND status = 'pending'", [subtree]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    r.close();
  }
}

export async function readLease(dbPath: string): Promise<{ holder: string; token: number; expiresAt: number } | null> {
  const r = await openReader(dbPath);
  try {
    const rows = await r.all("SELECT holder, token, expires_at FROM lease WHERE name = 'leader'");
    const x = rows[0];
    return x ? { holder: String(x.holder), token: Number(x.token), expiresAt: Number(x.expires_at) } : null;
  } finally {
    r.close();
  }
}

// ---------- bounded waiting ----------

/** Polls `check` until it returns a non-undefined value; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) break;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
