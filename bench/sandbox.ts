/**
 * `bun bench/sandbox.ts`: figures for user programs (issue 17), in one process, one run:
 *  - executed tx/s of the sandboxed token (examples/programs/token.js) against the native token,
 *    rounds of 1,000 transfers through the core executor (planned reads, then executeRound), as
 *    the leader runs them — without the database and HTTP parts, which are the same for both;
 *  - per-call sandbox overhead (fresh runtime and context, prelude, module, boundary) p50/p99,
 *    for a program whose apply does nothing;
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

const sandbox = await loadSandbox();
const user = new SandboxedProgram('token', readFileSync(join(import.meta.dirname, '..', 'examples', 'programs', 'token.js'), 'utf8'), sandbox);
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

function txPerSecond(program: Program, rs: ReturnType<typeof rounds>): { perSec: number; perRound: number[] } {
  const c = program.parseConfig(config);
  let state = genesis;
  const times: number[] = [];
  for (const txs of rs) {
    const t = performance.now();
    state = runRound(program, c, state, txs).after;
    times.push(performance.now() - t);
  }
  const total = times.reduce((a, b) => a + b, 0);
  return { perSec: (rs.length * rs[0]!.length * 1000) / total, perRound: times };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const rs = rounds(3, 1000);
const native = txPerSecond(token as Program, rs);
const sandboxed = txPerSecond(user, rs);
console.log(`token, rounds of 1,000 transfers (3 rounds, same process):`);
console.log(`  native    ${native.perSec.toFixed(0)} tx/s (rounds ${native.perRound.map((t) => t.toFixed(0)).join(', ')} ms)`);
console.log(`  sandboxed ${sandboxed.perSec.toFixed(0)} tx/s (rounds ${sandboxed.perRound.map((t) => t.toFixed(0)).join(', ')} ms); ratio ${(sandboxed.perSec / native.perSec).toFixed(3)} (goal >= 0.25)`);

const empty = 'export default { apply() { return { writes: [] }; } };';
const overhead: number[] = [];
for (let i = 0; i < 500; i++) {
  const t = performance.now();
  sandbox.run({ source: empty, method: 'apply', args: [{}, 'c', {}, 's'], gasLimit: DEFAULT_GAS_LIMIT, state: { get: () => undefined } });
  overhead.push(performance.now() - t);
}
console.log(`per-call sandbox overhead (empty apply, 500 calls): p50 ${(pct(overhead, 50) * 1000).toFixed(0)} µs, p99 ${(pct(overhead, 99) * 1000).toFixed(0)} µs`);

for (const [name, body] of [
  ['endless loop', 'for (;;) {}'],
  ['includes over 100k elements', 'const a = Array.from({ length: 100000 }, (_, i) => i); for (;;) a.includes(-1);'],
] as const) {
  const t = performance.now();
  const out = sandbox.run({ source: `export default { apply() { ${body} } };`, method: 'apply', args: [], gasLimit: DEFAULT_GAS_LIMIT });
  console.log(`one out_of_gas tx at the default limit (${DEFAULT_GAS_LIMIT.toLocaleString('en')} gas), ${name}: ${(performance.now() - t).toFixed(0)} ms (${out.ok ? 'ok' : out.code})`);
}
