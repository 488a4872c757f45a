/**
 * The bench server: the REAL node, wired exactly as src/runtime/bun.ts wires it (bootNode: config
 * from the environment, the libSQL file, createNode; then Bun.serve), behind a thin Hono app that adds two
 * bench-only routes the production app does not have:
 * - `POST /bench/echo` — parse the JSON body and send it back: the ceiling of this runtime +
 *   Hono + JSON on this machine, served by the same process as the node's own routes;
 * - `GET /bench/stats` — group-commit counters and the process's CPU time, for the report.
 * Everything else is handed to the node's app unchanged.
 *
 * Env as for the node, plus, for diagnosis only: BENCH_SCHEDULER=0 runs without the in-process
 * leader; BENCH_EXP_KICK_GAP_MS=<ms> lets a 202's leader kick through at most once per <ms>, to
 * see how round size (how many accepts one leader pass takes) moves throughput.
 * Prints `listening on http://HOST:PORT`; SIGTERM drains accepts and closes the database.
 */
import { Hono } from 'hono';
import { bootNode } from '../src/runtime/boot.ts';

if (!process.env.DSTP_NODE_KEY) throw new Error('bench server: set DSTP_NODE_KEY');
const { config, node } = await bootNode(process.env, (code) => process.exit(code), { scheduler: process.env.BENCH_SCHEDULER !== '0' });

if (process.env.BENCH_EXP_KICK_GAP_MS) {
  const gap = Number(process.env.BENCH_EXP_KICK_GAP_MS);
  const orig = node.ctx.kickLeader;
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  node.ctx.kickLeader = () => {
    const since = performance.now() - last;
    if (since >= gap) {
      last = performance.now();
      orig();
    } else
      timer ??= setTimeout(() => {
        timer = null;
        last = performance.now();
        orig();
      }, gap - since);
  };
}

const app = new Hono();
app.post('/bench/echo', async (c) => c.json(await c.req.json(), 202));
app.get('/bench/stats', (c) =>
  c.json({ committer: node.ctx.committer.stats, cpu: process.cpuUsage(), rss: process.memoryUsage().rss, crypto: node.ctx.verifier.name }),
);
app.all('*', (c) => node.app.fetch(c.req.raw));

const server = Bun.serve({
  port: config.port,
  hostname: config.host,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  fetch: app.fetch,
});
console.log(`listening on http://${server.hostname}:${server.port}`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  await server.stop(true);
  await node.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
// BENCH_EXP_LAG=1: every 2 s, how long the event loop was stalled (in stalls over 4 ms).
if (process.env.BENCH_EXP_LAG) {
  let last = performance.now(); let stalls = 0; let stallMs = 0; let max = 0;
  setInterval(() => { const now = performance.now(); const lag = now - last - 2; if (lag > 4) { stalls++; stallMs += lag; } if (lag > max) max = lag; last = now; }, 2);
  setInterval(() => { console.error(`[lag] stalls>4ms=${stalls} total=${stallMs.toFixed(0)}ms max=${max.toFixed(1)}ms`); stalls = 0; stallMs = 0; max = 0; }, 2000);
}
