/**
 * Starts the REAL node for integration tests: a fresh libSQL file in a temp directory, bound to
 * 127.0.0.1 on a free port. Two ways, same wiring: in-process (`startServer`, via createNode +
 * Bun.serve, gives access to `ctx` for white-box checks) or as a child process running the Bun
 * entry point (`startServerProcess`, exactly what `npm start` runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { digest } from '../../src/core/digest.ts';
import { sha256 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { publicKeyFromSecret, signDigest, type Scheme } from '../../src/core/keys.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import type { ProgramRegistry } from '../../src/core/programs/registry.ts';
import { subtreeId } from '../../src/core/subtree-request.ts';
import { signTx, type Tx, type TxEnvelope } from '../../src/core/tx.ts';
import { createNode } from '../../src/node.ts';
import type { NodeContext } from '../../src/services/context.ts';
import { openDatabase } from '../../src/store/db.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const NETWORK = 'dstp-test';

export interface ServerOptions {
  network?: string;
  /** `null` starts the node without an admin token. */
  adminToken?: string | null;
  /** Run leader passes in-process (default false: tests tick explicitly via POST /v1/leader/tick). */
  scheduler?: boolean;
  roundIntervalMs?: number;
  openSubtrees?: boolean;
  /** 32-byte ed25519 secret of the node key; random when absent. */
  nodeSecret?: Uint8Array;
  env?: Record<string, string>;
  /** Programs the in-process node runs (default: the native ones). */
  programs?: ProgramRegistry;
}

export interface TestServer {
  url: string;
  dir: string;
  dbUrl: string;
  network: string;
  adminToken: string | null;
  /** The node's public key (`ed25519:hex`). */
  nodeKey: string;
  nodeSecret: Uint8Array;
  /** Only for in-process servers. */
  ctx?: NodeContext;
  /** Only for child processes: the pid, and everything the node wrote to stderr (complete after close). */
  pid?: number;
  stderr?: Promise<string>;
  close(): Promise<void>;
}

function envFor(dir: string, opts: ServerOptions, nodeSecret: Uint8Array): Record<string, string> {
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    DSTP_DATABASE_URL: `file:${join(dir, 'dstp.db')}`,
    // Load from one address: the write limits are off here (tests of the limits turn them on).
    DSTP_RATE_LIMIT: '0',
    DSTP_SENDER_RATE_LIMIT: '0',
    DSTP_DATA_DIR: dir,
    DSTP_NETWORK: opts.network ?? NETWORK,
    DSTP_NODE_KEY: toHex(nodeSecret),
    DSTP_ROUND_INTERVAL_MS: String(opts.roundIntervalMs ?? 50),
    DSTP_LOG: 'error',
    DSTP_OPEN_SUBTREES: opts.openSubtrees ? '1' : '0',
    // No OpenTimestamps calendars unless a test brings its own on 127.0.0.1: tests never reach the network.
    DSTP_OTS_CALENDARS: 'none',
    ...opts.env,
  };
  const token = opts.adminToken === undefined ? ADMIN_TOKEN : opts.adminToken;
  if (token !== null) env.DSTP_ADMIN_TOKEN = token;
  return env;
}

/** In-process: createNode + Bun.serve on 127.0.0.1:0. */
export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dstp-api-'));
  const nodeSecret = opts.nodeSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const env = envFor(dir, opts, nodeSecret);
  const config = loadConfig(env);
  const db = await openDatabase({ url: config.databaseUrl });
  const node = await createNode(config, { db, nodeSecret, scheduler: opts.scheduler ?? false, ...(opts.programs ? { programs: opts.programs } : {}) });
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (req, srv) => node.app.fetch(req, { clientAddress: srv.requestIP(req)?.address }),
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    dir,
    dbUrl: config.databaseUrl,
    network: config.network,
    adminToken: config.adminToken ?? null,
    nodeKey: node.ctx.signer.publicKey,
    nodeSecret,
    ctx: node.ctx,
    async close() {
      await server.stop(true);
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Child process: `bun src/runtime/bun.ts` with PORT=0; waits for its "listening on" line. */
export async function startServerProcess(opts: ServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dstp-api-proc-'));
  const nodeSecret = opts.nodeSecret ?? crypto.getRandomValues(new Uint8Array(32));
  const env = envFor(dir, { scheduler: true, ...opts }, nodeSecret);
  const proc = Bun.spawn([join(REPO_ROOT, 'node_modules', '.bin', 'bun'), 'src/runtime/bun.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const stderr = new Response(proc.stderr).text();
  const url = await readListeningUrl(proc.stdout, 20_000).catch(async (err) => {
    proc.kill();
    throw new Error(`node did not start: ${String(err)}\n${await stderr}`);
  });
  return {
    url,
    dir,
    dbUrl: env.DSTP_DATABASE_URL!,
    network: env.DSTP_NETWORK!,
    adminToken: env.DSTP_ADMIN_TOKEN ?? null,
    nodeKey: publicKeyFromSecret('ed25519', nodeSecret),
    nodeSecret,
    pid: proc.pid,
    stderr,
    async close() {
      proc.kill('SIGTERM');
      const exited = await Promise.race([proc.exited, Bun.sleep(5000).then(() => null)]);
      if (exited === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function readListeningUrl(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) {
      reader.releaseLock();
      // Keep draining stdout so the child never blocks on a full pipe.
      void stream.pipeTo(new WritableStream()).catch(() => {});
      return m[1]!.replace('0.0.0.0', '127.0.0.1');
    }
  }
  throw new Error(`no "listening on" line; stdout so far: ${buf}`);
}

// ---- a tiny HTTP client for tests ----

export interface Res<T = any> {
  status: number;
  type: string;
  body: T;
  text: string;
}

export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { json?: unknown; raw?: string | Uint8Array<ArrayBuffer>; headers?: Record<string, string> } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  } else if (opts.raw !== undefined) body = opts.raw;
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  let parsed: unknown = undefined;
  if (type.endsWith('json')) parsed = JSON.parse(text);
  return { status: res.status, type, body: parsed as T, text };
}

export const adminHeader = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });

// ---- parties and signed objects ----

export interface Party {
  scheme: Scheme;
  secret: Uint8Array;
  key: string;
}

/** Deterministic test identities: secret = sha256(seed). */
export function party(seed: string, scheme: Scheme = 'ed25519'): Party {
  const secret = sha256(utf8(seed));
  return { scheme, secret, key: publicKeyFromSecret(scheme, secret) };
}

export interface SubtreeSpecInput {
  network: string;
  owner: Party;
  name: string;
  program: string;
  config: JsonValue;
  authority: string;
  genesis?: { key: string; value: JsonValue }[];
}

/** A creation request signed by its owner (the node adds its own signature for an admin caller). */
export function subtreeRequest(s: SubtreeSpecInput, extraSigners: Party[] = []) {
  const subtree = {
    v: 1 as const,
    network: s.network,
    parent: ROOT_ID_HEX,
    owner: s.owner.key,
    name: s.name,
    program: s.program,
    config: s.config,
    mode: { type: 'poa' as const, authority: s.authority },
    genesis: s.genesis ?? [],
  };
  const d = digest('subtree', subtree);
  const sigs = [s.owner, ...extraSigners].map((p) => ({ signer: p.key, sig: toHex(signDigest(p.scheme, p.secret, d)) }));
  return { id: toHex(subtreeId(subtree)), body: { subtree, sigs } };
}

/** SPEC §7's seed token: `owner` holds 10 and `other` 1 (supply 11); the node is the authority. */
export function seedTokenRequest(node: { network: string; nodeKey: string }, owner: Party, other: Party, name = 'coin') {
  const genesis = [
    { key: `balance/${owner.key}`, value: '10' },
    { key: `balance/${other.key}`, value: '1' },
    { key: 'supply', value: '11' },
  ];
  return subtreeRequest({ network: node.network, owner, name, program: 'token', config: { symbol: 'CO', decimals: 0, minter: owner.key }, authority: node.nodeKey, genesis });
}

export function signedTx(
  from: Party,
  t: { network: string; subtree: string; nonce: number; call: string; args: Record<string, JsonValue> },
): TxEnvelope {
  const tx: Tx = { v: 1, network: t.network, subtree: t.subtree, sender: from.key, nonce: t.nonce, call: t.call, args: t.args };
  return signTx(tx, from.scheme, from.secret);
}
