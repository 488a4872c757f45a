/**
 * Warm slots (src/platform/sandbox/warm.ts): a prepared program whose memory is restored before
 * each call must give exactly what a fresh runtime gives — the same value, failure code, message
 * and gas — whatever ran before, hostile calls included (SPEC §7.1: reusing a runtime is allowed
 * only where tests prove gas, memory and results unchanged). Random interleavings of programs,
 * methods, arguments and gas limits run through a fresh-only sandbox and a warm one.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../src/core/jcs.ts';
import type { SandboxCall } from '../../src/platform/sandbox/engine.ts';
import { loadSandbox } from '../../src/platform/sandbox/load.ts';

const fresh = await loadSandbox({ warm: 0 });
const warm = await loadSandbox({ warm: 2 });
const example = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'programs', name), 'utf8');
const apply = (body: string, top = '') => `${top}\nexport default { apply(config, call, args, sender, state) { ${body} } };`;

const PROGRAMS: string[] = [
  example('token.js'),
  example('counter.js'),
  example('names.js'),
  // Module state must not survive: each call sees counter 1.
  'export let counter = 0; export default { apply() { counter++; return { writes: [{ key: "c", value: counter }] }; } };',
  apply('for (;;) {}'),
  apply('const a = []; for (;;) a.push({ s: "x" + a.length });'),
  apply('function f(){ return f() + 1 } return f();'),
  apply('for (const f of [() => { Object.prototype.x = 1; }, () => { Array.prototype.push = null; }, () => { globalThis.y = 2; }]) { try { f(); } catch {} } Symbol.for("leak" + args.n); return { writes: [{ key: "s", value: String(Symbol.keyFor(Symbol.for("leak0"))) }] };'),
  apply('throw args.n % 2 ? { not: "an error" } : 7;'),
  apply('const o = {}; o.o = o; return o;'),
  apply('return { writes: [{ key: "r", value: state.get("declared") }, { key: "u", value: state.get("undeclared") }] };'),
  apply('const xs = []; for (let i = 0; i < 2000 * (args.n + 1); i++) xs.push(String(i)); return { writes: [{ key: "j", value: xs.join(",").length }] };'),
  apply('return { writes: [{ key: "big", value: "x".repeat(args.n * 20000) }] };'),
  // Heavy module top level: prepared gas is high, so low limits take the fresh path.
  apply('return { writes: [{ key: "t", value: TABLE.length + args.n }] };', 'const TABLE = Array.from({ length: 30000 }, (_, i) => i * 2);'),
  // Keeps memory from the module's top level: out of memory depends on the argument.
  apply('const a = []; for (let i = 0; i < args.n * 40000; i++) a.push([i]); return { writes: [] };', 'const KEEP = Array.from({ length: 100000 }, (_, i) => ({ i }));'),
  'export default { apply( { syntax error',
  // A module whose top level never ends is never prepared: its calls run out of gas fresh.
  'for (;;) {} export default {};',
  apply('return { writes: [{ key: "m", value: [Math.max(...[1, 2, args.n]), JSON.parse(JSON.stringify({ a: [args.n, 0.1 + 0.2] }))] }] };'),
];

const METHODS = ['apply', 'apply', 'apply', 'reads', 'checkCall', 'parseConfig', 'admit', 'credits'];
const LIMITS = [5, 20_000, 150_000, 1_000_000, 10_000_000, 100_000_000];
const PARTY = 'ed25519:' + '1'.repeat(64);

function callOf(p: number, m: number, n: number, limit: number): SandboxCall {
  const method = METHODS[m]!;
  const config: JsonValue = p === 0 ? { symbol: 'T', decimals: 0, minter: PARTY } : p === 1 ? { perSender: 3, maxStep: 2 } : {};
  const args: JsonValue = p === 0 ? { to: 'ed25519:' + '2'.repeat(64), amount: String(n + 1) } : p === 1 ? { by: n % 3 } : p === 2 ? { name: `n${n}`, to: PARTY } : { n };
  const withState = method === 'apply' || method === 'admit';
  return {
    source: PROGRAMS[p]!,
    method,
    args: [config, p === 0 ? 'transfer' : p === 1 ? 'increment' : p === 2 ? 'register' : 'c', args, PARTY],
    gasLimit: limit,
    ...(withState ? { state: { declared: new Set(['declared', `balance/${PARTY}`, 'balance/ed25519:' + '2'.repeat(64), 'total', `count/${PARTY}`, `name/n${n}`]), get: (k: string) => (k.startsWith('balance/') ? String(10 * n) : k === 'declared' ? { n } : undefined) } } : {}),
  };
}

describe('warm slots give exactly the fresh path\'s outcomes', () => {
  test('every program, method and limit, in random interleavings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: fc.nat(PROGRAMS.length - 1), m: fc.nat(METHODS.length - 1), n: fc.nat(4), l: fc.nat(LIMITS.length - 1) }), { minLength: 1, maxLength: 30 }),
        (steps) => {
          for (const { p, m, n, l } of steps) {
            const c = callOf(p, m, n, LIMITS[l]!);
            expect(warm.run(c)).toEqual(fresh.run(c));
          }
        },
      ),
      { numRuns: 25, seed: 17 },
    );
    // The warm sandbox really served calls from prepared programs (two slots for 17 programs in
    // random order: most calls miss; the next test runs one program after another).
    expect(warm.stats.warm).toBeGreaterThan(20);
  }, 300_000);

  test('runs of one program (as in a round) after hostile calls of another', () => {
    const before = warm.stats.warm;
    for (const hostile of [4, 5, 6, 14]) {
      for (let i = 0; i < 3; i++) expect(warm.run(callOf(hostile, 0, i, 10_000_000))).toEqual(fresh.run(callOf(hostile, 0, i, 10_000_000)));
      for (let i = 0; i < 20; i++) {
        const c = callOf(0, 0, i % 5, 10_000_000);
        expect(warm.run(c)).toEqual(fresh.run(c));
      }
    }
    expect(warm.stats.warm - before).toBeGreaterThanOrEqual(60);
  }, 120_000);
});
