/**
 * Deno entry point (`npm run start:deno`): `Deno.serve`, the in-process scheduler for rounds every
 * `DSTP_ROUND_INTERVAL_MS`, and `Deno.cron` as a once-a-minute backstop where the host suspends
 * idle timers (Deno Deploy); it needs `--unstable-cron` and is skipped, with a log line, without it.
 * npm packages come from node_modules (deno.json: nodeModulesDir "manual"); the libSQL file driver
 * is the same Node-API addon Node loads, hence --allow-ffi.
 */
import { runLeaderPass } from '../leader/leader-pass.ts';
import { announce, bootNode, failedToListen } from './boot.ts';

declare const Deno: {
  env: { toObject(): Record<string, string> };
  exit(code: number): never;
  version: { deno: string };
  serve(
    opts: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  cron?: (name: string, schedule: string, fn: () => Promise<void>) => Promise<void>;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', fn: () => void): void;
};

const booted = await bootNode(Deno.env.toObject(), (code) => Deno.exit(code));
const { config, node } = booted;
let server: ReturnType<typeof Deno.serve>;
try {
  server = Deno.serve(
    {
      port: config.port,
      hostname: config.host,
      onListen: ({ hostname, port }) => announce(booted, `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`, `deno ${Deno.version.deno}`),
    },
    // The socket address is what the write rate limits count (api/middleware/rate-limit.ts).
    (req, info) => node.app.fetch(req, { clientAddress: info.remoteAddr.hostname }),
  );
} catch (err) {
  await failedToListen(booted, err, (code) => Deno.exit(code));
  throw err;
}

if (typeof Deno.cron === 'function') {
  // The lease makes this safe next to the interval loop: a pass that finds another holder does nothing.
  void Deno.cron('dstp leader pass', '* * * * *', async () => {
    const r = await runLeaderPass(node.ctx).catch((err: unknown) => {
      node.ctx.log.error('leader pass (cron) failed', { error: String(err) });
      return null;
    });
    if (r && r.rounds.length > 0) node.ctx.log.debug('leader pass (cron)', { rounds: r.rounds.length });
  });
} else {
  node.ctx.log.info('Deno.cron unavailable (run with --unstable-cron); rounds run on the interval loop only');
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  node.ctx.log.info('shutting down', { signal });
  await server.shutdown();
  await node.close();
  node.ctx.log.info('stopped', { signal });
  Deno.exit(0);
}
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'));
Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'));
