/**
 * What the Bun, Node and Deno entry points share: configuration from the environment, the node
 * key, the libSQL database (embedded file, remote, or embedded replica), `createNode`. Each entry
 * then only binds its own HTTP server and signal handling. (Workers build theirs in worker.ts:
 * no file system, no native driver.)
 */
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createNode, type DstpNode } from '../node.ts';
import { openDatabase } from '../store/db.ts';
import { SERVING_THREAD, ThreadWriteLock } from '../store/thread-write-lock.ts';
import { createLogger } from '../platform/logger.ts';
import { leaderThreadWanted, startLeaderThread } from './leader-thread.ts';
import { loadOrCreateNodeKey } from './node-key-file.ts';

/** The batch route allows 4 MiB; every other route enforces its own, smaller limit. */
export const MAX_REQUEST_BODY = 4 * 1024 * 1024 + 1024;

export interface Booted {
  config: Config;
  node: DstpNode;
  /** Leader passes, webhooks and checkpoints run on their own thread (leader-thread.ts). */
  leaderThread: boolean;
}

/**
 * Exits with status 2 on invalid configuration (the message names every bad variable).
 * `scheduler: false` runs no leader at all (benchmarks of the accept path alone).
 */
export async function bootNode(
  env: Record<string, string | undefined>,
  exit: (code: number) => never,
  opts: { scheduler?: boolean } = {},
): Promise<Booted> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      exit(2);
    }
    throw err;
  }
  const nodeSecret = loadOrCreateNodeKey(config.dataDir, config.nodeKeyHex);
  const withThread = opts.scheduler !== false && leaderThreadWanted(config);
  const threadLock = withThread ? ThreadWriteLock.create(SERVING_THREAD) : undefined;
  const db = await openDatabase({
    url: config.databaseUrl,
    ...(config.databaseAuthToken ? { authToken: config.databaseAuthToken } : {}),
    ...(config.databaseSyncUrl ? { syncUrl: config.databaseSyncUrl, syncIntervalS: config.databaseSyncIntervalS } : {}),
    ...(threadLock ? { threadLock } : {}),
  });
  if (!threadLock) {
    return { config, node: await createNode(config, { db, nodeSecret, ...(opts.scheduler === false ? { scheduler: false } : {}) }), leaderThread: false };
  }
  const log = createLogger(config.log);
  const thread = await startLeaderThread(config, nodeSecret, threadLock, (why) => {
    log.error('leader thread died; exiting so that a supervisor restarts the node (all acknowledged transactions are durable)', { error: why });
    exit(70);
  });
  const node = await createNode(config, {
    db,
    nodeSecret,
    log,
    scheduler: false,
    webhooks: false,
    checkpoints: false,
    onKick: () => thread.kick(),
    leaderPass: () => thread.pass(),
    onKickWebhooks: () => thread.kickWebhooks(),
  });
  const closeServing = node.close;
  // Accepts drain first; then the thread runs its last passes and hands the lease back.
  node.close = async () => {
    await closeServing();
    await thread.close();
  };
  return { config, node, leaderThread: true };
}

/** Logs where the node listens, with credentials in database URLs masked. */
export function announce(booted: Booted, url: string, runtime: string): void {
  const { config, node } = booted;
  node.ctx.log.info('dstp listening', {
    url,
    runtime,
    network: config.network,
    publicKey: node.ctx.signer.publicKey,
    crypto: node.ctx.verifier.name,
    leader: booted.leaderThread ? 'thread' : 'in-process',
    database: maskUrl(config.databaseUrl),
    ...(config.databaseSyncUrl ? { primary: maskUrl(config.databaseSyncUrl) } : {}),
  });
  // A machine-readable line for scripts and tests that start the node on port 0.
  console.log(`listening on ${url}`);
}

function maskUrl(url: string): string {
  return url.startsWith('file:') ? url : url.replace(/\/\/.*@/, '//***@');
}
