/**
 * `bun bench/sandbox.ts`: figures for user programs (issue 17), in one process, one run:
 *  - executed tx/s of the sandboxed token (examples/programs/token.js) against the native token,
 *    rounds of 1,000 transfers through the core executor (planned reads, then executeRound), as
 *    the leader runs them — without the database and HTTP parts, which are the same for both;
 *    rounds interleaved: native, sandboxed on fresh runtimes only, sandboxed with warm slots;
 *  - per-call sandbox overhead (context, prelude, module, boundary) p50/p99, for a program whose
 *    apply does nothing, fresh and warm;
 *  - the time one out_of_gas transaction takes at the default gas limit (an endless loop, and a
 *    builtin-heavy loop).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../src/core/jcs.ts';
import { token } from '../src/core/programs/token.ts';
import type { Program } from '../src/core/programs/types.ts';
import { DEFAULT_GAS_LIMIT } from '../src/platform/sandbox/engines.ts';
import { loadSandbox } from '../src/platform/sandbox/load.ts';
import { SandboxedProgram } from '../src/platform/sandbox/sandboxed-program.ts';
import { alice, bob, carol, dave, makeTx, runRound } from '../test/unit/core-fixtures.ts';

const freshBox = await loadSandbox({ warm: 0 });
const sandbox = await loadSandbox();
const tokenSource = readFileSync(join(import.meta.dirname, '..', 'examples', 'programs', 'token.js'), 'utf8');
const freshUser = new SandboxedProgram('token', tokenSource, freshBox);
const user = new SandboxedProgram('token', tokenSource, sandbox);
const parties = [alice, bob, carol, dave];
const config = { symbol: 'TOK', decimals: 0, minter: alice.key };
const genesis = new Map<string, JsonValue>([...parties.map((p) => [`balance/${p.key}`, '1000000000'] as [string, JsonValue]), ['supply', '4000000000']]);

function rounds(n: number, size: number) {
  const nonces = [0, 0, 0, 0];
  return Array.from({ length: n }, (_, r) =>
    Array.from({ length: size }, (_, i) => {
      const from = (r * size + i) % 4;
      return makeTx(parties[from]!, nonces[from]!++, 'transfer', { to: parties[(from + 1 + (i % 3)) % 4]!.key, amount: String(1 + (i % 7)) });
    }),
  );
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

// Rounds interleaved, so that load on the shared machine hits all three alike.
const rs = rounds(3, 1000);
const runs = [
  { name: 'native', program: token as Program },
  { name: 'sandboxed, fresh runtimes', program: freshUser as Program },
  { name: 'sandboxed, warm slots', program: user as Program },
].map((r) => ({ ...r, config: r.program.parseConfig(config), state: genesis, times: [] as number[] }));
for (const txs of rs) {
  for (const r of runs) {
    const t = performance.now();
    r.state = runRound(r.program, r.config, r.state, txs).after;
    r.times.push(performance.now() - t);
  }
}
const perSec = (times: number[]) => (rs.length * rs[0]!.length * 1000) / times.reduce((a, b) => a + b, 0);
console.log(`token, rounds of 1,000 transfers (3 rounds each, interleaved, same process):`);
for (const r of runs) {
  console.log(
    `  ${r.name.padEnd(26)} ${perSec(r.times).toFixed(0).padStart(6)} tx/s (rounds ${r.times.map((t) => t.toFixed(0)).join(', ')} ms)` +
      (r.name === 'native' ? '' : `; ratio to native ${(perSec(r.times) / perSec(runs[0]!.times)).toFixed(3)} (goal >= 0.25)`),
  );
}
console.log(`  warm sandbox calls: ${sandbox.stats.warm} warm, ${sandbox.stats.fresh} fresh`);

const empty = 'export default { apply() { return { writes: [] }; } };';
for (const [name, box] of [['fresh', freshBox], ['warm', sandbox]] as const) {
  const overhead: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    box.run({ source: empty, method: 'apply', args: [{}, 'c', {}, 's'], gasLimit: DEFAULT_GAS_LIMIT, state: { get: () => undefined } });
    overhead.push(performance.now() - t);
  }
  console.log(`per-call sandbox overhead, ${name} (empty apply, 500 calls): p50 ${(pct(overhead, 50) * 1000).toFixed(0)} µs, p99 ${(pct(overhead, 99) * 1000).toFixed(0)} µs`);
}

for (const [name, body] of [
  ['endless loop', 'for (;;) {}'],
  ['includes over 100k elements', 'const a = Array.from({ length: 100000 }, (_, i) => i); for (;;) a.includes(-1);'],
] as const) {
  const t = performance.now();
  const out = sandbox.run({ source: `export default { apply() { ${body} } };`, method: 'apply', args: [], gasLimit: DEFAULT_GAS_LIMIT });
  console.log(`one out_of_gas tx at the default limit (${DEFAULT_GAS_LIMIT.toLocaleString('en')} gas), ${name}: ${(performance.now() - t).toFixed(0)} ms (${out.ok ? 'ok' : out.code})`);
}
