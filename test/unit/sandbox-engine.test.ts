/**
 * The sandbox engine (src/platform/sandbox): the engine string names the WASM file, nothing that
 * ran before changes a call's result, gas or memory outcome, and a failure of the host itself is
 * an error, never an outcome (SPEC §7.1).
 */
import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Sandbox, SandboxHostError, sourceProblem, type SandboxCall } from '../../src/platform/sandbox/engine.ts';
import { CURRENT_ENGINE, ENGINES } from '../../src/platform/sandbox/engines.ts';
import { loadSandbox } from '../../src/platform/sandbox/load.ts';

const sandbox = await loadSandbox();
const prog = (body: string) => `export default { apply(config, call, args, sender, state) { ${body} } };`;
const call = (source: string, extra: Partial<SandboxCall> = {}): SandboxCall => ({ source, method: 'apply', args: [{}, 'c', {}, 's'], gasLimit: 10_000_000, ...extra });

const benign = call(prog('const a = state.get("a"); const xs = []; for (let i = 0; i < 3000; i++) xs.push(String(i)); return { writes: [{ key: "a", value: [a, xs.join("").length, xs.sort().slice(0, 3)] }] };'), {
  state: { declared: new Set(['a']), get: () => ({ n: 1 }) },
});
const hostile = [
  call(prog('for (;;) {}')),
  call(prog('const a = []; for (;;) a.push({ s: "x" + a.length });'), { gasLimit: 1e9 }),
  call(prog('for (const f of [() => { Object.prototype.x = 1; }, () => { Array.prototype.push = null; }, () => { globalThis.y = 2; }]) { try { f(); } catch {} } Symbol.for("leak"); return { writes: [] };')),
  call('export let counter = 0; export default { apply() { counter++; return { writes: [{ key: "c", value: counter }] }; } };'),
  call(prog('function f(){ return f() + 1 } return f();')),
];

describe('sandbox engine', () => {
  test('the engine string carries the first 16 hex digits of the WASM file SHA-256', () => {
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
    expect(ENGINES[CURRENT_ENGINE]!.wasmSha256).toBe(digest);
    expect(CURRENT_ENGINE).toBe(`quickjs-wasm/0.32.0/${digest.slice(0, 16)}`);
    expect(sandbox.engine).toBe(CURRENT_ENGINE);
    const pkg = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/package.json'), 'utf8')) as { version: string };
    expect(pkg.version).toBe(ENGINES[CURRENT_ENGINE]!.version);
  });

  test('nothing that ran before changes a call: same result and gas after hostile programs', () => {
    const fresh = sandbox.run(benign);
    expect(fresh.ok).toBe(true);
    const outcomes = hostile.map((c) => sandbox.run(c));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['out_of_gas', 'out_of_memory', 'ok', 'ok', 'program_error']);
    expect(sandbox.run(benign)).toEqual(fresh);
    // Module state does not survive: the counter is 1 every time.
    const again = hostile.slice(3, 4).map((c) => sandbox.run(c));
    expect(again[0]).toEqual(outcomes[3]!);
    expect((outcomes[3] as { value: unknown }).value).toEqual({ writes: [{ key: 'c', value: 1 }] });
    // And a second instance of the engine agrees with the first.
    const memory = hostile[1]!;
    expect(sandbox.run(memory)).toEqual(outcomes[1]!);
  }, 60_000);

  test('a limit below the base price is out_of_gas at once, charging the limit', () => {
    expect(sandbox.run(call(prog('return { writes: [] };'), { gasLimit: 5 }))).toEqual({ ok: false, code: 'out_of_gas', gas: 5, message: 'out of gas' });
  });

  test('gas grows with the work and a result within the limit reports what it used', () => {
    const small = sandbox.run(call(prog('const a = new Array(1000).fill(1); for (let i = 0; i < 10; i++) a.includes(2); return { writes: [] };')));
    const big = sandbox.run(call(prog('const a = new Array(1000).fill(1); for (let i = 0; i < 100; i++) a.includes(2); return { writes: [] };')));
    expect(small.ok && big.ok).toBe(true);
    expect(big.gas - small.gas).toBeGreaterThanOrEqual(90 * 1000 * ENGINES[CURRENT_ENGINE]!.prices.elem);
  });

  test('BigInt literals are refused before running (their operators are not metered)', () => {
    expect(sourceProblem('const x = 10n;')).toBeDefined();
    expect(sourceProblem('const x = 0xffn * y;')).toBeDefined();
    expect(sourceProblem('const name = "in"; const x = 10; a.n;')).toBeUndefined();
  });

  test('the host overflowing its own stack is a SandboxHostError, never an outcome, and the instance is retired', async () => {
    const deep = await loadSandbox({ stackBytes: 8 * 1024 * 1024 });
    expect(() => deep.run(call(prog('function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } return f(1e6);')))).toThrow(SandboxHostError);
    expect(deep.usable).toBe(false);
    expect(() => deep.run(benign)).toThrow(SandboxHostError);
    // Other instances are unaffected.
    expect(sandbox.run(benign).ok).toBe(true);
  }, 60_000);

  test('a gas limit below what the prelude costs is out_of_gas, not a failure of the host', () => {
    for (const gasLimit of [10_001, 20_000, 100_000]) {
      expect(sandbox.run(call(prog('return { writes: [] };'), { gasLimit }))).toEqual({ ok: false, code: 'out_of_gas', gas: gasLimit, message: 'out of gas' });
    }
    expect(sandbox.usable).toBe(true);
    expect(sandbox.run(benign).ok).toBe(true);
  });

  test('an unknown engine string is refused', () => {
    expect(() => new Sandbox(undefined as never, 'quickjs-wasm/0.0.0/0000000000000000')).toThrow('unknown engine');
  });
});
