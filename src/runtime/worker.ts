/**
 * Cloudflare Workers entry point (`wrangler.toml`: main). One node per isolate, built on the first
 * request from the Worker's bindings:
 * - the database is remote libSQL only (Turso or sqld over `libsql://` / `https://`) through
 *   `@libsql/client/web`: no file system and no native driver here. Migrations are embedded in the
 *   bundle (src/store/migrations.generated.ts) and applied when an isolate starts;
 * - the node key comes from the DSTP_NODE_KEY secret (there is nowhere to keep a generated one);
 * - no timers survive a request, so there is no in-process scheduler: the cron trigger runs a
 *   leader pass every minute (then webhook deliveries and a checkpoint), and every accept asks for
 *   a pass right after its response, inside `ctx.waitUntil`, so a transaction does not wait for the
 *   next minute. The database lease keeps passes of many isolates (and of other hosts on the same
 *   database) from both leading.
 *
 * Why writes get a node per request: workerd cancels a request that waits on a promise which
 * only another request's I/O can settle ("code had hung"). A node shared by the isolate would do
 * exactly that on writes (its write queue and group commit join concurrent requests). So every
 * request that may write builds its own node over a fresh HTTP client.
 *
 * Reads (GET/HEAD) share one node per isolate instead, for its caches: tree nodes, values and
 * final rounds are immutable, so a warm isolate answers a state read with 1-3 database round
 * trips instead of ~9. That is safe because the read path only keeps data between requests
 * (LRU maps), never a pending promise: each request's queries are sent from its own context
 * (the read client has no concurrency queue that could hand one request's query to another).
 * Building that node does no I/O (migrations are applied by a per-request node first).
 *
 * Kept per isolate otherwise: the parsed config, the key, the signer and verifier, whether
 * migrations ran, and one lease-holder id, so concurrent passes of the isolate renew one lease.
 */
import { createClient } from '@libsql/client/web';
// wrangler bundles a .wasm import as a compiled WebAssembly.Module (workerd compiles no bytes at
// run time); the path names the file because the package's `./wasm` export has no .wasm suffix.
// @ts-expect-error: TypeScript has no type for a .wasm module import.
import quickjsWasm from '../../node_modules/@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm';
import { runAnchorPass } from '../checkpoint/anchor-worker.ts';
import { createFollowLoop } from '../follow/follow-loop.ts';
import { checkpointService } from '../checkpoint/checkpoint-service.ts';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { fromHex } from '../core/hex.ts';
import type { SignatureVerifier } from '../core/keys.ts';
import { LEADER_LEASE, runLeaderPass, type PassReport } from '../leader/leader-pass.ts';
import { createNode, type DstpNode } from '../node.ts';
import { createNodeSigner, type NodeSigner } from '../platform/node-signer.ts';
import { createVerifier } from '../platform/verifier.ts';
import { openDatabaseWithClient, releaseLease, type Database } from '../store/index.ts';
import { runWebhookPass } from '../webhooks/worker.ts';

/** The subset of the Workers types this file uses (no @cloudflare/workers-types dependency). */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}
interface ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}
type Env = Record<string, unknown>;

/** What outlives a request in this isolate: data only, never a promise or an I/O object. */
interface IsolateState {
  config: Config;
  nodeSecret: Uint8Array;
  migrated: boolean;
  holder: string;
  /** Leader passes of this isolate under way; the lease is handed back when the last one ends. */
  passes: number;
  /** Built by the first request (their probes cost milliseconds), then shared: no I/O inside. */
  signer?: NodeSigner;
  verifier?: SignatureVerifier;
  /** The shared node that serves GET/HEAD (see the header comment). */
  reader?: DstpNode;
}

let isolate: IsolateState | null = null;

function stateFor(env: Env): IsolateState {
  if (isolate) return isolate;
  const strings = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const config = loadConfig(strings);
  if (config.databaseUrl.startsWith('file:')) {
    throw new ConfigError('DSTP_DATABASE_URL must be a libsql://, https:// or http:// URL on Workers (no local files)');
  }
  if (config.databaseSyncUrl) throw new ConfigError('DSTP_DATABASE_SYNC_URL (embedded replica) needs a file system; not on Workers');
  if (!config.nodeKeyHex) throw new ConfigError('DSTP_NODE_KEY must be set as a secret on Workers (wrangler secret put DSTP_NODE_KEY)');
  isolate = { config, nodeSecret: fromHex(config.nodeKeyHex, 32), migrated: false, holder: crypto.randomUUID(), passes: 0 };
  return isolate;
}

/** A node for this request only (see the header comment for why). */
async function requestNode(state: IsolateState, onKick?: () => void): Promise<DstpNode> {
  // Migrations are embedded in the bundle; the first request of an isolate applies what is missing.
  const db = await openDatabaseWithClient(httpClient(state.config), { migrate: !state.migrated });
  state.migrated = true;
  return buildNode(state, db, onKick);
}

/** The isolate's read node, built once (no I/O) and then shared by every GET/HEAD. */
async function readerNode(state: IsolateState): Promise<DstpNode> {
  if (state.reader) return state.reader;
  // Migrations first (reads of a missing table would fail), from this request.
  if (!state.migrated) {
    await openDatabaseWithClient(httpClient(state.config));
    state.migrated = true;
  }
  // A queue in the client would start one request's query from another request's continuation.
  const db = await openDatabaseWithClient(httpClient(state.config, 1_000_000), { migrate: false });
  const node = await buildNode(state, db);
  state.reader ??= node; // two cold requests may both build one; either is fine
  return state.reader;
}

function httpClient(config: Config, concurrency?: number) {
  return createClient({
    url: config.databaseUrl,
    ...(config.databaseAuthToken ? { authToken: config.databaseAuthToken } : {}),
    ...(concurrency ? { concurrency } : {}),
  });
}

async function buildNode(state: IsolateState, db: Database, onKick?: () => void): Promise<DstpNode> {
  state.signer ??= await createNodeSigner(state.nodeSecret);
  state.verifier ??= await createVerifier();
  return createNode(state.config, {
    db,
    nodeSecret: state.nodeSecret,
    signer: state.signer,
    verifier: state.verifier,
    scheduler: false,
    webhooks: false,
    checkpoints: false,
    instanceId: state.holder,
    sandboxWasm: quickjsWasm as WebAssembly.Module,
    ...(onKick ? { onKick } : {}),
  });
}

/**
 * One leader pass, in the background of a request. If another isolate holds the lease, it tries
 * again for a while: that holder may have swept the pending list just before this request's
 * transaction was committed, and would then leave it for the next trigger (up to a minute).
 */
async function leaderPass(state: IsolateState, node: DstpNode): Promise<PassReport | null> {
  const ctx = node.ctx;
  const deadline = Date.now() + Math.min(ctx.config.leaseTtlMs + 2000, 25_000);
  state.passes++;
  let last: PassReport | null = null;
  try {
    for (;;) {
      last = await runLeaderPass(ctx);
      if (last.idle || last.leader || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    ctx.log.error('leader pass failed', { error: String(err) });
  } finally {
    state.passes--;
  }
  // The isolate may sit idle for minutes: hand the lease back so any other host can lead at once.
  if (last?.leader && !last.leaseLost && last.token !== undefined && state.passes === 0) {
    await releaseLease(ctx.db, { name: LEADER_LEASE, holder: state.holder, token: last.token }).catch(() => false);
  }
  return last;
}

async function afterRounds(node: DstpNode, report: PassReport | null): Promise<void> {
  if (!report || report.rounds.length === 0) return;
  // Their outbox events are committed now: deliver them without waiting for the cron.
  await runWebhookPass(node.ctx).catch((err: unknown) => node.ctx.log.error('webhook pass failed', { error: String(err) }));
}

function bootFailure(err: unknown): Response {
  // Details go to the Worker's log, not to the caller.
  console.error(JSON.stringify({ level: 'error', msg: 'node failed to start', error: err instanceof Error ? err.message : String(err) }));
  return Response.json(
    { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the node is not configured or cannot reach its database', code: 'unavailable' },
    { status: 503, headers: { 'content-type': 'application/problem+json' } },
  );
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    let kicked = false;
    let state: IsolateState;
    let node: DstpNode;
    try {
      state = stateFor(env);
      const reads = request.method === 'GET' || request.method === 'HEAD';
      node = reads ? await readerNode(state) : await requestNode(state, () => (kicked = true));
    } catch (err) {
      return bootFailure(err);
    }
    const response = await node.app.fetch(request);
    if (kicked) ctx.waitUntil(leaderPass(state, node).then((r) => afterRounds(node, r)));
    else if (response.ok && request.method === 'POST' && new URL(request.url).pathname.startsWith('/v1/webhooks/')) {
      // A retry on request or a re-enabled endpoint: deliver now, not at the next cron.
      ctx.waitUntil(runWebhookPass(node.ctx).catch((err: unknown) => node.ctx.log.error('webhook pass failed', { error: String(err) })));
    }
    return response;
  },

  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    let state: IsolateState;
    let node: DstpNode;
    try {
      state = stateFor(env);
      node = await requestNode(state);
    } catch (err) {
      bootFailure(err);
      throw err; // marks the cron invocation as failed
    }
    ctx.waitUntil(
      (async () => {
        await leaderPass(state, node);
        // Followed subtrees poll their origins from the cron (no event streams here: a minute of lag).
        await createFollowLoop(node.ctx, { kick: () => {}, watch: false })
          .pass()
          .catch((err: unknown) => node.ctx.log.error('follow pass failed', { error: String(err) }));
        // Answers 'unchanged' at once when no subtree head moved since the last checkpoint.
        await checkpointService(node.ctx)
          .build()
          .catch((err: unknown) => node.ctx.log.error('checkpoint build failed', { error: String(err) }));
        // Calendars are asked outside any DB transaction; a slow one costs this invocation its timeout only.
        await runAnchorPass(node.ctx).catch((err: unknown) => node.ctx.log.error('anchor pass failed', { error: String(err) }));
        // Last, so the events of this invocation's rounds, checkpoint and anchors go out now, with the retries that came due.
        await runWebhookPass(node.ctx).catch((err: unknown) => node.ctx.log.error('webhook pass failed', { error: String(err) }));
      })(),
    );
  },
};
