import { createApp } from './api/app.ts';
import { writeLimits } from './api/middleware/rate-limit.ts';
import { AdmissionGate } from './services/admission.ts';
import type { DocsAssets } from './api/routes/docs/index.ts';
import { createFollowLoop, type FollowLoop } from './follow/follow-loop.ts';
import { startAnchorWorker, type AnchorWorker } from './checkpoint/anchor-worker.ts';
import { checkpointService } from './checkpoint/checkpoint-service.ts';
import type { Config } from './config.ts';
import { createKeyParser, type SignatureVerifier } from './core/keys.ts';
import { NATIVE_PROGRAMS } from './core/programs/native.ts';
import type { ProgramRegistry } from './core/programs/registry.ts';
import { SparseMerkleTree } from './core/smt/tree.ts';
import { LEADER_BUSY_FACTOR, LEADER_MIN_GAP_MS, startScheduler, type Scheduler } from './leader/scheduler.ts';
import { LEADER_LEASE, runLeaderPass } from './leader/leader-pass.ts';
import { startCryptoPool, type CryptoPool } from './platform/crypto-pool.ts';
import { createLogger } from './platform/logger.ts';
import { createNodeSigner, type NodeSigner } from './platform/node-signer.ts';
import { selectSha256, treeHashOptions } from './platform/sha256.ts';
import { createVerifier } from './platform/verifier.ts';
import type { Logger, NodeContext } from './services/context.ts';
import { loadSandbox } from './platform/sandbox/load.ts';
import type { Sandbox } from './platform/sandbox/engine.ts';
import { ProgramLibrary } from './platform/sandbox/program-library.ts';
import { ProgramThread } from './platform/sandbox/program-thread.ts';
import { findProgram } from './store/programs.ts';
import { SubtreeCache } from './services/subtree-cache.ts';
import { CachedNodeStore, GroupCommitter, LibsqlNodeStore, releaseLease, type Database } from './store/index.ts';
import { startWebhookWorker, type WebhookWorker } from './webhooks/worker.ts';

export interface NodeOptions {
  db: Database;
  nodeSecret: Uint8Array;
  /** The user-program engine's .wasm, compiled by the host (workerd imports it as a module); read from node_modules otherwise. */
  sandboxWasm?: WebAssembly.Module;
  /** Run leader passes in-process on `config.roundIntervalMs` (default true). */
  scheduler?: boolean;
  /** Without an in-process scheduler: called when an accept wants a leader pass soon (Workers use
   * it to run a pass in `ctx.waitUntil` after the response). */
  onKick?: () => void;
  /** Run the webhook delivery worker in-process (default true); without it, hosts call
   * `runWebhookPass` (e.g. Workers cron / waitUntil) or `POST /v1/webhooks/dispatch`. */
  webhooks?: boolean;
  /** Build checkpoints on `config.checkpointIntervalMs` and run the OpenTimestamps anchor loop
   * (default: same as `scheduler`); without it, `POST /v1/checkpoints` builds one. */
  checkpoints?: boolean;
  log?: Logger;
  now?: () => number;
  /** Already-built identity and verifier (Workers keep them per isolate and build a node per
   * request); default: built here from `nodeSecret`. */
  signer?: NodeSigner;
  verifier?: SignatureVerifier;
  /** Lease holder id; default a fresh random id. Workers build a node per request and pass the
   * isolate's id, so passes of one isolate renew one lease instead of fencing each other out. */
  instanceId?: string;
  /** The programs subtrees may run; default the native ones (kv, token). */
  programs?: ProgramRegistry;
  /** The `/docs` viewer's files (runtimes with a file system read them from node_modules). */
  docsAssets?: DocsAssets;
}

export interface DstpNode {
  ctx: NodeContext;
  app: ReturnType<typeof createApp>;
  /** Stops the scheduler, lets queued accepts commit, gives up the lease, closes the database. */
  close(): Promise<void>;
}

/**
 * Wires one node from its ports. Runtime entry points (src/runtime/*) only read configuration,
 * open the database and serve `app.fetch`; everything else is here, once.
 */
export async function createNode(config: Config, opts: NodeOptions): Promise<DstpNode> {
  const log = opts.log ?? createLogger(config.log);
  const sha = selectSha256();
  const hash = sha.hash;
  const store = new CachedNodeStore(new LibsqlNodeStore(opts.db));
  let scheduler: Scheduler | null = null;
  let webhooks: WebhookWorker | null = null;
  let checkpointer: Scheduler | null = null;
  let anchors: AnchorWorker | null = null;
  let follower: Scheduler | null = null;
  let follows: FollowLoop | null = null;
  const signer = opts.signer ?? (await createNodeSigner(opts.nodeSecret));
  const verifier = opts.verifier ?? (await createVerifier());
  // Signature work off the serving thread, unless the host brought its own signer and verifier.
  const pool: CryptoPool | null =
    opts.signer || opts.verifier
      ? null
      : startCryptoPool({
          threads: cryptoThreads(config.cryptoThreads),
          secret: opts.nodeSecret,
          fallback: { verifier, signer },
          onThreadError: (error) => log.error('crypto thread failed; its work runs on the main thread', { error }),
        });
  const tree = new SparseMerkleTree(store, { ...treeHashOptions(sha), hash });
  let sandbox: Promise<Sandbox> | undefined;
  const loadEngine = () => (sandbox ??= loadSandbox(opts.sandboxWasm ? { wasmModule: opts.sandboxWasm } : {}));
  // User programs' rounds off the serving thread (Bun, Deno); its worker starts on first use.
  const programThread = ProgramThread.start();
  // One registry: the deployment's programs plus the user programs (js:<id>) loaded from the store.
  const programs = new ProgramLibrary(opts.programs ?? NATIVE_PROGRAMS, (id) => findProgram(opts.db, id), loadEngine, hash);
  const committer = new GroupCommitter(opts.db, { maxPendingPerSender: config.maxPendingPerSender });
  const ctx: NodeContext = {
    config,
    db: opts.db,
    signer: pool?.signer ?? signer,
    verifier: pool?.verifier ?? verifier,
    parseKey: createKeyParser(),
    hash,
    store,
    tree,
    committer,
    subtrees: new SubtreeCache(opts.db, programs),
    programs,
    now: opts.now ?? Date.now,
    kickLeader: () => (scheduler ? scheduler.kick() : opts.onKick?.()),
    kickWebhooks: () => webhooks?.kick(),
    kickFollows: () => follower?.kick(),
    sandbox: loadEngine,
    programThread,
    instanceId: opts.instanceId ?? crypto.randomUUID(),
    limits: writeLimits(config, opts.now ?? Date.now),
    admission: new AdmissionGate(opts.db, tree, store, (id) => committer.recentHead(id)),
    log,
  };
  const app = createApp(ctx, opts.docsAssets);
  let heldToken: number | undefined;
  if (opts.webhooks !== false) webhooks = startWebhookWorker(ctx);
  if (opts.scheduler !== false) {
    scheduler = startScheduler({
      intervalMs: config.roundIntervalMs,
      // Under load, gather between rounds: a round's cost is mostly per round and touched tree path.
      minGapMs: Math.min(LEADER_MIN_GAP_MS, config.roundIntervalMs),
      busyFactor: LEADER_BUSY_FACTOR,
      pass: async () => {
        const r = await runLeaderPass(ctx);
        if (!r.idle) heldToken = r.leader && !r.leaseLost ? r.token : undefined;
        if (r.rounds.length > 0) webhooks?.kick(); // their outbox events are committed: deliver now
      },
      onError: (err) => log.error('leader pass failed', { error: String(err) }),
    });
  }
  if (opts.scheduler !== false) {
    // Followed subtrees (SPEC §12): synced under the leader lease, kicked by the origins' event streams.
    const loop = createFollowLoop(ctx, { kick: () => follower?.kick(), watch: true });
    follows = loop;
    follower = startScheduler({
      intervalMs: config.followIntervalMs,
      pass: async () => {
        const r = await loop.pass();
        if (r.synced.some((s) => s.report.applied > 0)) webhooks?.kick();
      },
      onError: (err) => log.error('follow pass failed', { error: String(err) }),
    });
  }
  if (opts.checkpoints ?? opts.scheduler !== false) {
    const checkpoints = checkpointService(ctx);
    if (config.otsCalendars.length > 0) anchors = startAnchorWorker(ctx);
    checkpointer = startScheduler({
      intervalMs: config.checkpointIntervalMs,
      pass: async () => {
        const r = await checkpoints.build();
        if (r.status === 'built') {
          webhooks?.kick();
          anchors?.kick();
        }
      },
      onError: (err) => log.error('checkpoint build failed', { error: String(err) }),
    });
  }
  return {
    ctx,
    app,
    async close() {
      follows?.close();
      await follower?.stop();
      await checkpointer?.stop();
      await anchors?.stop();
      await scheduler?.stop();
      await ctx.committer.drain();
      await webhooks?.stop();
      await pool?.close();
      programThread?.close();
      // Hand the lease over at once instead of making the next leader wait out the TTL.
      if (heldToken !== undefined) {
        await releaseLease(opts.db, { name: LEADER_LEASE, holder: ctx.instanceId, token: heldToken }).catch(() => false);
      }
      await opts.db.close();
    },
  };
}

/** `auto`: one thread per core beyond the serving one, at most 4 (a 2-core machine gets 1). */
export function cryptoThreads(setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  const cores = typeof navigator !== 'undefined' && typeof navigator.hardwareConcurrency === 'number' ? navigator.hardwareConcurrency : 1;
  return Math.max(0, Math.min(4, cores - 1));
}
