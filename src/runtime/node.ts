/**
 * Node entry point (`npm run start:node`): the same node as bun.ts behind `@hono/node-server`.
 * Node 20 cannot run TypeScript itself, so `start:node` bundles this file (dependencies stay
 * external, so the native libSQL driver loads from node_modules) and runs the bundle.
 */
import { serve, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { announce, bootNode, failedToListen } from './boot.ts';

const booted = await bootNode(process.env, (code) => process.exit(code));
const { config, node } = booted;
// The socket address is what the write rate limits count (api/middleware/rate-limit.ts).
const fetch = (req: Request, env: HttpBindings | Http2Bindings) => node.app.fetch(req, { clientAddress: env.incoming.socket.remoteAddress });
const server = serve({ fetch, port: config.port, hostname: config.host }, (info: AddressInfo) => {
  announce(booted, `http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`, `node ${process.version}`);
});
server.once('error', (err) => void failedToListen(booted, err, (code) => process.exit(code)));

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  node.ctx.log.info('shutting down', { signal });
  // Stop accepting, let requests in flight finish, then drain the node (scheduler, accepts, lease).
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await node.close();
  node.ctx.log.info('stopped', { signal });
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
