/**
 * What the Bun, Node and Deno entry points share: configuration from the environment, the node
 * key, the libSQL database (embedded file, remote, or embedded replica), `createNode`. Each entry
 * then only binds its own HTTP server and signal handling. (Workers build theirs in worker.ts:
 * no file system, no native driver.)
 */
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createNode, type DstpNode } from '../node.ts';
import { openDatabase } from '../store/db.ts';
import { docsAssetsFromNodeModules } from './docs-assets.ts';
import { loadOrCreateNodeKey } from './node-key-file.ts';

/**
 * The runtime's own body limit stays out of the way: the app checks each route's limit while
 * the body streams in (api/middleware/json-body.ts) and answers problem+json, where the runtime
 * would answer a bare 413.
 */
export const MAX_REQUEST_BODY = Number.MAX_SAFE_INTEGER;

export interface Booted {
  config: Config;
  node: DstpNode;
}

/**
 * Exits with status 2 on invalid configuration (the message names every bad variable).
 * `scheduler: false` runs no leader (benchmarks of the accept path alone).
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
  const db = await openDatabase({
    url: config.databaseUrl,
    ...(config.databaseAuthToken ? { authToken: config.databaseAuthToken } : {}),
    ...(config.databaseSyncUrl ? { syncUrl: config.databaseSyncUrl, syncIntervalS: config.databaseSyncIntervalS } : {}),
  });
  const node = await createNode(config, { db, nodeSecret, docsAssets: docsAssetsFromNodeModules, ...(opts.scheduler === false ? { scheduler: false } : {}) });
  return { config, node };
}

/** Logs where the node listens, with credentials in database URLs masked. */
export function announce({ config, node }: Booted, url: string, runtime: string): void {
  node.ctx.log.info('dstp listening', {
    url,
    runtime,
    network: config.network,
    publicKey: node.ctx.signer.publicKey,
    crypto: node.ctx.verifier.name,
    database: maskUrl(config.databaseUrl),
    ...(config.databaseSyncUrl ? { primary: maskUrl(config.databaseSyncUrl) } : {}),
  });
  // A machine-readable line for scripts and tests that start the node on port 0.
  console.log(`listening on ${url}`);
}

function maskUrl(url: string): string {
  return url.startsWith('file:') ? url : url.replace(/\/\/.*@/, '//***@');
}

/**
 * A listen failure the user can fix (port taken, port not permitted) as one line without a stack
 * trace; null for anything else.
 */
export function listenProblem(err: unknown, config: Config): string | null {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  const where = `${config.host}:${config.port}`;
  if (code === 'EADDRINUSE') return `dstp: cannot listen on ${where}: the port is in use (set PORT to a free port, or 0 for any)`;
  if (code === 'EACCES') return `dstp: cannot listen on ${where}: permission denied (set PORT to a port above 1023)`;
  return null;
}

/** Closes the node that could not listen and exits 1 with `listenProblem`'s line; rethrows the rest. */
export async function failedToListen({ config, node }: Booted, err: unknown, exit: (code: number) => never): Promise<never> {
  const line = listenProblem(err, config);
  if (line === null) throw err;
  console.error(line);
  await node.close().catch(() => undefined);
  return exit(1);
}
