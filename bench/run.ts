/**
 * `npm run bench`: every benchmark in sequence, each in its own process, then one markdown
 * report in bench/results/latest.md — machine facts, the issue 3 figures against their targets
 * (pass/fail), and each script's own output.
 *
 * Scripts: bench/crypto.ts and bench/smt.ts (10k and 1M keys, with the peers) for issue 2, bench/store.ts,
 * bench/store-layout.ts (the tree's storage at 100k+ keys), and the node
 * benches (node-accept, node-latency, node-proofs) which start the real node in a child process
 * and leave their figures in bench/results/<name>.json. `bun bench/run.ts node-proofs` runs only
 * the named scripts. Whole run: about 7 minutes on 2 cores.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { BUN, REPO_ROOT, RESULTS_DIR, fmtInt, fmtMs } from './load-client.ts';

interface Script {
  name: string;
  args: string[];
  timeoutMs: number;
}

const SCRIPTS: Script[] = [
  { name: 'crypto', args: [], timeoutMs: 120_000 },
  { name: 'smt', args: [], timeoutMs: 420_000 },
  { name: 'store', args: [], timeoutMs: 180_000 },
  { name: 'store-layout', args: [], timeoutMs: 300_000 },
  { name: 'node-accept', args: [], timeoutMs: 240_000 },
  { name: 'node-latency', args: [], timeoutMs: 120_000 },
  { name: 'node-proofs', args: [], timeoutMs: 150_000 },
  { name: 'runtimes', args: [], timeoutMs: 300_000 },
  { name: 'multisig', args: [], timeoutMs: 180_000 },
  { name: 'webhooks', args: [], timeoutMs: 240_000 },
  { name: 'follow-lag', args: [], timeoutMs: 180_000 },
  { name: 'follow-catchup', args: [], timeoutMs: 240_000 },
];

const only = process.argv.slice(2);
const selected = only.length > 0 ? SCRIPTS.filter((s) => only.includes(s.name)) : SCRIPTS;

async function version(cmd: string[]): Promise<string> {
  try {
    const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'ignore' });
    return (await new Response(p.stdout).text()).trim() || 'n/a';
  } catch {
    return 'n/a';
  }
}

const started = new Date();
const load0 = loadavg();
const machine = [
  `- date: ${started.toISOString()}`,
  `- cpu: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${platform()} ${release()}`,
  `- runtimes: bun ${Bun.version}, node ${await version(['node', '--version'])}`,
  `- load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')} (other work on the machine skews every figure)`,
  `- node benches: server and load generator in separate processes${process.env.BENCH_PIN === '1' ? ', pinned to core 0 and core 1' : ''}; database on the real disk (${process.env.TMPDIR ?? '/tmp'}), synchronous=FULL`,
];

interface Ran {
  name: string;
  ok: boolean;
  seconds: number;
  output: string;
}

async function run(s: Script): Promise<Ran> {
  const file = join(REPO_ROOT, 'bench', `${s.name}.ts`);
  if (!existsSync(file)) return { name: s.name, ok: false, seconds: 0, output: `(bench/${s.name}.ts is missing)` };
  rmSync(join(RESULTS_DIR, `${s.name}.json`), { force: true });
  console.log(`\n=== bench/${s.name}.ts ${s.args.join(' ')}`);
  const t = performance.now();
  const proc = Bun.spawn([BUN, file, ...s.args], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe', env: process.env });
  const timer = setTimeout(() => proc.kill('SIGTERM'), s.timeoutMs);
  // Echo live and keep a copy; stderr too (some scripts print their tables there).
  const collect = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    let text = '';
    const dec = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const s = dec.decode(value, { stream: true });
      sink.write(s);
      text += s;
    }
    return text;
  };
  const [out, err] = await Promise.all([collect(proc.stdout, process.stdout), collect(proc.stderr, process.stderr)]);
  const code = await proc.exited;
  clearTimeout(timer);
  const seconds = (performance.now() - t) / 1000;
  const output = (out + (err.trim() ? `\n${err}` : '')).trim();
  return { name: s.name, ok: code === 0, seconds, output: code === 0 ? output : `${output}\n(exit code ${code}${seconds * 1000 >= s.timeoutMs ? ', timed out' : ''})` };
}

const results: Ran[] = [];
for (const s of selected) results.push(await run(s));

// ---------------------------------------------------------------- issue 3 figures

function readJson(name: string): any | null {
  if (!selected.some((s) => s.name === name)) return null;
  const f = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8'));
  } catch {
    return null;
  }
}

const accept = readJson('node-accept');
const latency = readJson('node-latency');
const proofs = readJson('node-proofs');
const rows: string[] = [];
const verdict = (ok: boolean) => (ok ? '**pass**' : '**FAIL**');
const share = (x: unknown) => (typeof x === 'number' && !Number.isNaN(x) ? `${(x * 100).toFixed(0)} %` : '–');
const row = (figure: string, measured: string, target: string, ok: boolean | null, other?: unknown) =>
  rows.push(`| ${figure} | ${measured} | ${target} | ${ok === null ? '–' : verdict(ok)} | ${share(other)} |`);

if (accept) {
  const o = accept.otherLoad ?? {};
  row('accepted signed tx/s, 64 connections, synchronous=FULL, leader on', fmtInt(accept.accept.perSec), '≥ 10,000', accept.accept.perSec >= 10_000, o.accept);
  row('plain Hono echo route, same server and client (ceiling)', `${fmtInt(accept.echo.perSec)} req/s`, '–', null, o.echo);
  row('accept / echo', `${(accept.ratio * 100).toFixed(1)} %`, '≥ 40 %', accept.ratio >= 0.4);
  row('accept round trip p50 / p99', `${fmtMs(accept.accept.p50)} / ${fmtMs(accept.accept.p99)} ms`, '–', null, o.accept);
  row('server CPU per accepted tx (leader included)', `${fmtInt(accept.serverCpuUsPerTx)} µs`, '–', null, o.accept);
  if (accept.acceptNoLeader) {
    row('accepted tx/s with the leader off (the accept path alone)', fmtInt(accept.acceptNoLeader.perSec), '–', null, o.alone);
    row('server CPU per accepted tx, leader off', `${fmtInt(accept.aloneCpuUsPerTx)} µs`, '–', null, o.alone);
  }
  if (accept.acceptInline) {
    const x = accept.accept.perSec / accept.acceptInline.perSec;
    row('accepted tx/s, leader on, signatures on the serving thread (DSTP_CRYPTO_THREADS=0)', fmtInt(accept.acceptInline.perSec), '–', null, o.inline);
    row('crypto thread pool: accepted tx/s with it / without it', `×${x.toFixed(2)}`, '–', null);
  }
}
if (latency) {
  row(`202 → executed p50, ${fmtInt(latency.achievedRate)} tx/s steady, 200 ms interval`, `${fmtMs(latency.p50)} ms`, '≤ 250 ms', latency.p50 <= 250, latency.otherLoad);
  row('202 → executed p99', `${fmtMs(latency.p99)} ms`, '–', null, latency.otherLoad);
}
if (proofs) {
  row(`proofs served/s (value + proof + signed round), ${fmtInt(proofs.accounts)} accounts, 64 connections`, fmtInt(proofs.perSec), '≥ 10,000', proofs.perSec >= 10_000, proofs.otherLoad);
  row('server CPU per proof', `${fmtInt(proofs.cpuUsPerProof)} µs`, '–', null, proofs.otherLoad);
}
const webhooks = readJson('webhooks');
if (webhooks) {
  const best = (n: number) => Math.max(...webhooks.throughput.filter((t: { endpoints: number }) => t.endpoints === n).map((t: { perSec: number }) => t.perSec));
  row('webhook deliveries/s to a fast local receiver (1 endpoint / 5 endpoints)', `${fmtInt(best(1))} / ${fmtInt(best(5))}`, '–', null);
  for (const d of webhooks.delayAfterCommit) {
    row(`webhook delay after commit p50 / p99, ${d.commitsPerSec} commits/s × ${d.eventsPerCommit} events`, `${fmtMs(d.p50)} / ${fmtMs(d.p99)} ms`, '–', null);
  }
  row('submit (202) → tx.executed webhook p50 / p99, 200 ms rounds', `${fmtMs(webhooks.submitToWebhook.p50)} / ${fmtMs(webhooks.submitToWebhook.p99)} ms`, '–', null);
}
const table =
  rows.length > 0
    ? [
        '| figure | measured | target | | other processes* |',
        '|---|---:|---:|---|---:|',
        ...rows,
        '',
        '\\* CPU used by other processes during that phase, as a share of the whole machine (all cores): the node and the load generator got what was left.',
      ].join('\n')
    : '(no node bench ran)';

const report = [
  '# dstp benchmarks — latest run',
  '',
  ...machine,
  '',
  '## Issue 3 figures',
  '',
  table,
  '',
  '## Runs',
  '',
  ...results.map((r) => [`### bench/${r.name}.ts — ${r.ok ? 'ok' : 'FAILED'}, ${r.seconds.toFixed(0)} s`, '', '```', r.output, '```', ''].join('\n')),
].join('\n');

await Bun.write(join(RESULTS_DIR, 'latest.md'), report + '\n');
console.log(`\n${table}`);
console.log(`\nreport: bench/results/latest.md (${results.filter((r) => r.ok).length}/${results.length} scripts ok)`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
