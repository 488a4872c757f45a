/**
 * Bun entry point (`npm start`): configuration from the environment, the node key from
 * DSTP_NODE_KEY or the data directory, the embedded (or remote) libSQL database, one HTTP server.
 */
import { ConfigError, loadConfig } from '../config.ts';
import { createNode } from '../node.ts';
import { openDatabase } from '../store/db.ts';
import { loadOrCreateNodeKey } from './node-key-file.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

const nodeSecret = loadOrCreateNodeKey(config.dataDir, config.nodeKeyHex);
const db = await openDatabase({
  url: config.databaseUrl,
  ...(config.databaseAuthToken ? { authToken: config.databaseAuthToken } : {}),
});
const node = await createNode(config, { db, nodeSecret });
const server = Bun.serve({
  port: config.port,
  hostname: config.host,
  // The batch route allows 4 MiB; every other route enforces its own, smaller limit.
  maxRequestBodySize: 4 * 1024 * 1024 + 1024,
  fetch: node.app.fetch,
});
node.ctx.log.info('dstp listening', {
  url: `http://${server.hostname}:${server.port}`,
  network: config.network,
  publicKey: node.ctx.signer.publicKey,
  database: config.databaseUrl.startsWith('file:') ? config.databaseUrl : config.databaseUrl.replace(/\/\/.*@/, '//***@'),
});
// A machine-readable line for scripts and tests that start the node on port 0.
console.log(`listening on http://${server.hostname}:${server.port}`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  node.ctx.log.info('shutting down', { signal });
  await server.stop();
  await node.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
