/**
 * Bun entry point (`npm start`): configuration from the environment, the node key from
 * DSTP_NODE_KEY or the data directory, the embedded (or remote, or replica) libSQL database, one
 * HTTP server, the in-process scheduler. `npm start` execs Bun, so npm's forwarded SIGTERM/SIGINT
 * reach this process and drain it (exit 0).
 */
import { announce, bootNode, failedToListen, MAX_REQUEST_BODY } from './boot.ts';

const booted = await bootNode(process.env, (code) => process.exit(code));
const { config, node } = booted;
const exit = (code: number) => process.exit(code);
let server: ReturnType<typeof Bun.serve>;
try {
  server = Bun.serve({
    port: config.port,
    hostname: config.host,
    maxRequestBodySize: MAX_REQUEST_BODY,
    // The socket address is what the write rate limits count (api/middleware/rate-limit.ts).
    fetch: (req, srv) => node.app.fetch(req, { clientAddress: srv.requestIP(req)?.address }),
  });
} catch (err) {
  await failedToListen(booted, err, exit);
  throw err;
}
announce(booted, `http://${server.hostname}:${server.port}`, `bun ${Bun.version}`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  node.ctx.log.info('shutting down', { signal });
  // Stop accepting and let requests in flight finish; then the node drains: the round in
  // progress and the group commit complete, the lease is handed over.
  await server.stop();
  await node.close();
  node.ctx.log.info('stopped', { signal });
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
