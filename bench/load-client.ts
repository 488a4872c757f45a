/**
 * The load generator shared by the node benches: a minimal HTTP/1.1 client over raw TCP sockets
 * (Bun.connect), keep-alive, one request in flight per connection (closed loop), requests encoded
 * to bytes BEFORE timing. A raw socket client costs a few µs per request, so the server — not the
 * client — is what a bench measures; `fetch` is kept for comparison (`fetchLoop`).
 *
 * Also: starting the bench server in a child process, CPU pinning, percentiles, and a few
 * helpers the node benches share (signing, waiting for execution).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubtreeRequest, signSubtreeRequest, subtreeIdHex, tokenGenesis } from '../src/client/sign.ts';
import type { JsonValue } from '../src/core/jcs.ts';
import { fromHex, toHex } from '../src/core/hex.ts';
import { txIdHex, type Tx } from '../src/core/tx.ts';
import { createNodeSigner, type NodeSigner } from '../src/platform/node-signer.ts';
import { nativeSha256 } from '../src/platform/sha256.ts';

export const REPO_ROOT = join(import.meta.dirname, '..');
export const BUN = join(REPO_ROOT, 'node_modules', '.bin', 'bun');

// ---------------------------------------------------------------- requests

export interface Req {
  method: string;
  path: string;
  /** JSON text, sent with Content-Type: application/json. */
  body?: string;
}

export interface Encoded extends Req {
  /** The whole HTTP/1.1 request as bytes (what the raw client writes). */
  bytes: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeRequest(host: string, r: Req, headers: Record<string, string> = {}): Encoded {
  const body = r.body === undefined ? undefined : enc.encode(r.body);
  let head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body) head += `content-type: application/json\r\ncontent-length: ${body.length}\r\n`;
  head += '\r\n';
  const h = enc.encode(head);
  const bytes = new Uint8Array(h.length + (body?.length ?? 0));
  bytes.set(h);
  if (body) bytes.set(body, h.length);
  return { ...r, bytes };
}

// ---------------------------------------------------------------- raw HTTP/1.1 connection

export interface HttpResponse {
  status: number;
  body: Uint8Array;
}

const CRLFCRLF = [13, 10, 13, 10] as const;

function indexOfHeaderEnd(b: Uint8Array, from: number): number {
  for (let i = Math.max(0, from); i + 3 < b.length; i++) {
    if (b[i] === CRLFCRLF[0] && b[i + 1] === CRLFCRLF[1] && b[i + 2] === CRLFCRLF[2] && b[i + 3] === CRLFCRLF[3]) return i;
  }
  return -1;
}

/**
 * One keep-alive connection with at most one request in flight. Responses are framed by
 * Content-Length or chunked transfer encoding (what Bun.serve sends); nothing else is parsed.
 */
export class HttpConn {
  private socket: { write(b: Uint8Array): number; end(): void; flush?(): void } | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private pending: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | null = null;
  private unsent: Uint8Array | null = null;
  private closedErr: Error | null = null;

  static async open(hostname: string, port: number): Promise<HttpConn> {
    const c = new HttpConn();
    await new Promise<void>((resolve, reject) => {
      Bun.connect({
        hostname,
        port,
        socket: {
          open(s) {
            c.socket = s;
            resolve();
          },
          data(_s, chunk) {
            c.onData(chunk);
          },
          drain() {
            c.flushUnsent();
          },
          close() {
            c.fail(new Error('connection closed by server'));
          },
          error(_s, err) {
            c.fail(err);
            reject(err);
          },
          connectError(_s, err) {
            reject(err);
          },
        },
      }).catch(reject);
    });
    return c;
  }

  request(bytes: Uint8Array): Promise<HttpResponse> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    if (this.pending) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const n = this.socket!.write(bytes);
      if (n < bytes.length) this.unsent = bytes.subarray(Math.max(0, n));
    });
  }

  close(): void {
    this.closedErr ??= new Error('closed');
    this.socket?.end();
  }

  private flushUnsent(): void {
    if (!this.unsent) return;
    const n = this.socket!.write(this.unsent);
    this.unsent = n < this.unsent.length ? this.unsent.subarray(Math.max(0, n)) : null;
  }

  private fail(err: Error): void {
    this.closedErr ??= err;
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  /** An incomplete response stays buffered: copy it, the runtime may reuse the chunk's memory. */
  private keep(): void {
    this.buf = this.buf.slice();
  }

  private onData(chunk: Uint8Array): void {
    if (this.buf.length === 0) this.buf = chunk;
    else {
      const b = new Uint8Array(this.buf.length + chunk.length);
      b.set(this.buf);
      b.set(chunk, this.buf.length);
      this.buf = b;
    }
    const end = indexOfHeaderEnd(this.buf, 0);
    if (end < 0) return this.keep();
    const head = dec.decode(this.buf.subarray(0, end));
    const status = Number(head.slice(9, 12));
    const bodyStart = end + 4;
    let body: Uint8Array;
    let consumed: number;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) {
      const len = Number(cl[1]);
      if (this.buf.length < bodyStart + len) return this.keep();
      body = this.buf.slice(bodyStart, bodyStart + len);
      consumed = bodyStart + len;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Uint8Array[] = [];
      let at = bodyStart;
      for (;;) {
        const lineEnd = this.buf.indexOf(13, at);
        if (lineEnd < 0 || lineEnd + 1 >= this.buf.length) return this.keep();
        const size = parseInt(dec.decode(this.buf.subarray(at, lineEnd)), 16);
        if (this.buf.length < lineEnd + 2 + size + 2) return this.keep();
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        parts.push(this.buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) {
        body.set(p, o);
        o += p.length;
      }
    } else {
      body = new Uint8Array(0);
      consumed = bodyStart;
    }
    this.buf = consumed < this.buf.length ? this.buf.slice(consumed) : new Uint8Array(0);
    const p = this.pending;
    this.pending = null;
    p?.resolve({ status, body });
  }
}

export async function openConnections(url: string, n: number): Promise<HttpConn[]> {
  const u = new URL(url);
  return Promise.all(Array.from({ length: n }, () => HttpConn.open(u.hostname, Number(u.port))));
}

export function jsonOf<T = any>(r: HttpResponse): T {
  return JSON.parse(dec.decode(r.body)) as T;
}

// ---------------------------------------------------------------- closed-loop load

export interface LoopOptions {
  /** Stop after this long (ms), counting the warm-up. */
  durationMs: number;
  /** Responses completing before this (ms from start) are not counted. */
  warmupMs: number;
  /** The next request for connection `c` (its `i`-th), or null when it has no more. */
  next: (c: number, i: number) => Uint8Array | null;
  /** Called for each response; return false to count it as an error (default: 2xx only). */
  check?: (c: number, r: HttpResponse, sentAt: number, doneAt: number) => boolean;
}

export interface LoopResult {
  /** Responses counted (after the warm-up) and their rate. */
  count: number;
  perSec: number;
  errors: number;
  statuses: Record<number, number>;
  /** Request latency percentiles (ms) of counted responses. */
  p50: number;
  p99: number;
  /** Measured window (ms). */
  windowMs: number;
  /** Some connection ran out of requests before the deadline. */
  exhausted: boolean;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Every connection sends its next request as soon as the previous one is answered. */
export async function closedLoop(conns: HttpConn[], o: LoopOptions): Promise<LoopResult> {
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  const warmEnd = t0 + o.warmupMs;
  const lat = new Float64Array(4_000_000);
  let count = 0;
  let errors = 0;
  let exhausted = false;
  let lastDone = warmEnd;
  const statuses: Record<number, number> = {};
  const check = o.check ?? ((_c, r) => r.status >= 200 && r.status < 300);
  await Promise.all(
    conns.map(async (conn, c) => {
      for (let i = 0; ; i++) {
        const now = performance.now();
        if (now >= deadline) return;
        const bytes = o.next(c, i);
        if (bytes === null) {
          exhausted = true;
          return;
        }
        const r = await conn.request(bytes);
        const done = performance.now();
        const ok = check(c, r, now, done);
        if (done >= warmEnd && done <= deadline) {
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (!ok) errors++;
          if (count < lat.length) lat[count] = done - now;
          count++;
          lastDone = done;
        }
      }
    }),
  );
  const windowMs = (exhausted ? lastDone : deadline) - warmEnd;
  const sorted = lat.subarray(0, Math.min(count, lat.length)).sort();
  return {
    count,
    perSec: (count * 1000) / windowMs,
    errors,
    statuses,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    windowMs,
    exhausted,
  };
}

/** The same loop through `fetch` (keep-alive pool), to show what the raw client saves. */
export async function fetchLoop(base: string, connections: number, o: Omit<LoopOptions, 'next' | 'check'> & { next: (c: number, i: number) => Req | null }): Promise<LoopResult> {
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  const warmEnd = t0 + o.warmupMs;
  const lat: number[] = [];
  let errors = 0;
  const statuses: Record<number, number> = {};
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = 0; ; i++) {
        const now = performance.now();
        if (now >= deadline) return;
        const r = o.next(c, i);
        if (!r) return;
        const res = await fetch(base + r.path, {
          method: r.method,
          ...(r.body !== undefined ? { body: r.body, headers: { 'content-type': 'application/json' } } : {}),
        });
        await res.arrayBuffer();
        const done = performance.now();
        if (done >= warmEnd && done <= deadline) {
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (res.status >= 300) errors++;
          lat.push(done - now);
        }
      }
    }),
  );
  const windowMs = deadline - warmEnd;
  lat.sort((a, b) => a - b);
  return { count: lat.length, perSec: (lat.length * 1000) / windowMs, errors, statuses, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), windowMs, exhausted: false };
}

// ---------------------------------------------------------------- the server process

export interface BenchServer {
  url: string;
  pid: number;
  dir: string;
  /** SIGTERM, wait for exit (the node commits what it accepted and closes its database). */
  stop(): Promise<void>;
}

/**
 * CPU pinning, only with BENCH_PIN=1 (taskset): the server on core 0, the load generator on core
 * 1. Off by default: pinning a whole Bun process to one core also pins its JIT and GC threads
 * there, and on a 2-core machine that showed up as millisecond stalls (echo p99 6 ms at 1
 * connection) and lower, noisier throughput than letting the kernel place the threads.
 */
export const PIN = process.env.BENCH_PIN === '1' && Bun.which('taskset') !== null && navigator.hardwareConcurrency >= 2;

/** Pins this process (all its threads) to `cpu`. */
export function pinSelf(cpu: number): void {
  if (!PIN) return;
  Bun.spawnSync(['taskset', '-a', '-cp', String(cpu), String(process.pid)], { stdout: 'ignore', stderr: 'ignore' });
}

/**
 * Starts bench/echo-server.ts (the real node plus an echo route) in its own process on
 * 127.0.0.1:0 with a fresh database file in `dir`. `BENCH_CPU_PROF=1` writes a markdown CPU
 * profile of the server into bench/results/profiles/ when it stops.
 */
export async function startBenchServer(o: {
  dir: string;
  nodeKeyHex: string;
  adminToken: string;
  network: string;
  roundIntervalMs?: number;
  scheduler?: boolean;
  profileName?: string;
  /** More settings for the node (e.g. DSTP_CRYPTO_THREADS). */
  env?: Record<string, string>;
}): Promise<BenchServer> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? o.dir,
    PORT: '0',
    HOST: '127.0.0.1',
    DSTP_DATABASE_URL: `file:${join(o.dir, 'dstp.db')}`,
    // The bench measures the accept path itself: the write limits are off, explicitly.
    DSTP_RATE_LIMIT: '0',
    DSTP_SENDER_RATE_LIMIT: '0',
    DSTP_DATA_DIR: o.dir,
    DSTP_NETWORK: o.network,
    DSTP_NODE_KEY: o.nodeKeyHex,
    DSTP_ADMIN_TOKEN: o.adminToken,
    DSTP_LOG: 'error',
    BENCH_SCHEDULER: o.scheduler === false ? '0' : '1',
  };
  // Experiments, and the node's crypto thread setting, pass through to the server.
  for (const [k, v] of Object.entries(process.env)) {
    // The limits are off above; DSTP_RATE_LIMIT=1000000/s etc. measures what the limiter costs.
    if ((k.startsWith('BENCH_EXP_') || k === 'DSTP_CRYPTO_THREADS' || k === 'DSTP_RATE_LIMIT' || k === 'DSTP_SENDER_RATE_LIMIT') && v !== undefined) env[k] = v;
  }
  if (o.roundIntervalMs !== undefined) env.DSTP_ROUND_INTERVAL_MS = String(o.roundIntervalMs);
  Object.assign(env, o.env);
  const prof =
    process.env.BENCH_CPU_PROF === '1'
      ? ['--cpu-prof-md', `--cpu-prof-dir=${join(RESULTS_DIR, 'profiles')}`, `--cpu-prof-name=${o.profileName ?? 'server'}.md`]
      : [];
  const cmd = [BUN, ...prof, join(REPO_ROOT, 'bench', 'echo-server.ts')];
  const proc = Bun.spawn(PIN ? ['taskset', '-c', '0', ...cmd] : cmd, {
    cwd: REPO_ROOT,
    env,
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const url = await readListening(proc.stdout, 30_000).catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return {
    url,
    pid: proc.pid,
    dir: o.dir,
    async stop() {
      proc.kill('SIGTERM');
      const code = await Promise.race([proc.exited, Bun.sleep(20_000).then(() => null)]);
      if (code === null) proc.kill('SIGKILL');
    },
  };
}

async function readListening(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader();
  let buf = '';
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) {
        reader.releaseLock();
        void stream.pipeTo(new WritableStream()).catch(() => {});
        return m[1]!;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`bench server did not start; stdout: ${buf}`);
}

// ---------------------------------------------------------------- small shared helpers

export async function getJson<T = any>(base: string, path: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export async function postJson<T = any>(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as T };
}

/** Polls until none of `ids` is pending any more (a round executed it), or the time is up. */
export async function waitExecuted(base: string, ids: readonly string[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let left = [...ids];
  while (performance.now() < deadline) {
    const views = await Promise.all(left.map((id) => getJson<{ status: string }>(base, `/v1/transactions/${id}`)));
    left = left.filter((_, i) => views[i]!.status === 'pending');
    if (left.length === 0) return true;
    await Bun.sleep(100);
  }
  return false;
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMs = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString());

// ---------------------------------------------------------------- parties, subtrees, signed txs


const sha = nativeSha256();

export interface Party {
  secret: Uint8Array;
  key: string;
  signer: NodeSigner;
}

/** Random ed25519 identities with the native signer (the same one the node uses; ~40k signs/s). */
export async function makeParties(n: number): Promise<Party[]> {
  const out: Party[] = [];
  for (let i = 0; i < n; i++) {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const signer = await createNodeSigner(secret);
    out.push({ secret, key: signer.publicKey, signer });
  }
  return out;
}

/**
 * Creates a token subtree whose authority is the node (the admin token lets the node add its own
 * signature), with `balances` in genesis and `owner` as minter. Returns its id.
 */
export async function createTokenSubtree(
  base: string,
  o: { network: string; adminToken: string; nodeKey: string; owner: Party; name: string; balances: Record<string, number> },
): Promise<string> {
  const spec = buildSubtreeRequest({
    network: o.network,
    owner: o.owner.key,
    name: o.name,
    program: 'token',
    config: { symbol: 'BENCH', decimals: 0, minter: o.owner.key },
    mode: { type: 'poa', authority: o.nodeKey },
    genesis: tokenGenesis(o.balances),
  });
  const body = signSubtreeRequest(spec, [{ scheme: 'ed25519', secret: o.owner.secret }]);
  const res = await postJson(base, '/v1/subtrees', body, { authorization: `Bearer ${o.adminToken}` });
  if (res.status !== 201 && res.status !== 200) throw new Error(`create subtree: ${res.status} ${JSON.stringify(res.body)}`);
  return subtreeIdHex(spec);
}

export interface SignedTx {
  id: string;
  /** The JSON body `{tx, sig}`. */
  body: string;
}

export async function signCall(
  from: Party,
  t: { network: string; subtree: string; nonce: number; call: string; args: Record<string, JsonValue> },
): Promise<SignedTx> {
  const tx: Tx = { v: 1, network: t.network, subtree: t.subtree, sender: from.key, nonce: t.nonce, call: t.call, args: t.args };
  const id = txIdHex(tx, sha);
  const sig = toHex(await from.signer.sign(fromHex(id, 32)));
  return { id, body: JSON.stringify({ tx, sig }) };
}

/** Account addresses (ed25519 public keys) from the native key generator, for recipients. */
export function accountKeys(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    out.push(`ed25519:${Buffer.from(jwk.x!, 'base64url').toString('hex')}`);
  }
  return out;
}

/** Unique temporary folder on the real disk (never tmpfs: fsync must cost what it costs). */
export function benchDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `dstp-bench-${tag}-`));
}

/** Where the node benches leave their figures (JSON) for bench/run.ts to put in the report. */
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

export async function writeResult(name: string, result: unknown): Promise<void> {
  await Bun.write(join(RESULTS_DIR, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
}

export async function serverStats(base: string): Promise<{ committer: { groups: number; items: number; largestGroup: number }; cpu: { user: number; system: number }; rss: number }> {
  return getJson(base, '/bench/stats');
}

export const envInt = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
};

// ---------------------------------------------------------------- other load on the machine

/** Busy and total CPU time of the whole machine (ms, all cores), from /proc/stat; null elsewhere. */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const tick = 10; // USER_HZ = 100 on Linux
    return { busy: (total - idle) * tick, total: total * tick };
  } catch {
    return null;
  }
}

/**
 * Waits (at most `maxMs`) until the machine has been nearly idle for one second, so a bench does
 * not start while other work runs; returns the busy share seen last (0..1).
 */
export async function waitQuiet(maxMs = 8_000, threshold = 0.15): Promise<number> {
  const deadline = performance.now() + maxMs;
  let share = 1;
  for (;;) {
    const a = machineCpu();
    await Bun.sleep(1000);
    const b = machineCpu();
    if (!a || !b) return NaN;
    share = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (share <= threshold || performance.now() >= deadline) return share;
  }
}

/** CPU the machine spent during a phase outside this process and the server, as a share of all cores. */
export class OtherLoad {
  private readonly m0 = machineCpu();
  private readonly c0 = process.cpuUsage();
  constructor(private readonly server0: { user: number; system: number }) {}
  /** `server1`: the server's process.cpuUsage() at the end of the phase. */
  share(server1: { user: number; system: number }): number {
    const m1 = machineCpu();
    if (!this.m0 || !m1) return NaN;
    const c = process.cpuUsage(this.c0);
    const ours = (c.user + c.system + server1.user + server1.system - this.server0.user - this.server0.system) / 1000;
    return Math.max(0, (m1.busy - this.m0.busy - ours) / Math.max(1, m1.total - this.m0.total));
  }
}
