/**
 * A closed-loop flood from one loopback source address, in a process of its own so that it
 * does not share an event loop with the client whose latency a test measures.
 * Usage: bun test/helpers/flood.ts <url> <local address> <connections> <ms>  (body on stdin)
 * Prints `{ "<status>": count, … }` when done.
 */
import { Agent, request } from 'node:http';

const [url, from, conns, ms] = process.argv.slice(2) as [string, string, string, string];
const body = await new Response(Bun.stdin.stream()).text();
const u = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: Number(conns) });
const counts: Record<string, number> = {};
const until = performance.now() + Number(ms);

const once = () =>
  new Promise<void>((resolve) => {
    const req = request(
      { host: u.hostname, port: Number(u.port), path: u.pathname, method: 'POST', localAddress: from, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          counts[res.statusCode!] = (counts[res.statusCode!] ?? 0) + 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      counts.error = (counts.error ?? 0) + 1;
      resolve();
    });
    req.end(body);
  });

await Promise.all(
  Array.from({ length: Number(conns) }, async () => {
    while (performance.now() < until) await once();
  }),
);
agent.destroy();
console.log(JSON.stringify(counts));
