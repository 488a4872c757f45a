/** Programs for the sandbox's determinism scenario and its gas ceiling (sandbox-scenario-script.ts). */
import type { JsonValue } from '../../src/core/jcs.ts';
import type { Sandbox } from '../../src/platform/sandbox/engine.ts';

export interface ScenarioCase {
  name: string;
  source: string;
  method?: string;
  args?: JsonValue[];
  gasLimit?: number;
  /** Declared keys with their values (absent = undefined). */
  state?: Record<string, JsonValue | undefined>;
  declare?: string[];
}

/** apply(config, call, args, sender): the state object is added by the engine. */
export const APPLY_ARGS: JsonValue[] = [{}, 'run', { n: 1 }, 'ed25519:' + 'ab'.repeat(32)];

const prog = (body: string) => `export default { apply(config, call, args, sender, state) { ${body} } };`;

export const SCENARIO: ScenarioCase[] = [
  { name: 'loops', source: prog('let s = 0; for (let i = 0; i < 200000; i++) s = (s * 31 + i) % 1000003; return { writes: [{ key: "s", value: s }] };') },
  { name: 'floats', source: prog('const v = []; for (let i = 1; i < 50; i++) v.push(Math.sin(i) * Math.exp(i / 10) / Math.sqrt(i) + Math.pow(1.1, i) + Math.atan2(i, 7) + Math.log1p(i) + Math.cbrt(i) + Math.hypot(i, 3)); return { writes: [{ key: "f", value: v.map(String) }, { key: "n", value: v }] };') },
  { name: 'float-formatting', source: prog('return { writes: [{ key: "x", value: [0.1 + 0.2, 1e21, 1e-7, -0, 5e-324, 1.7976931348623157e308, (123.456).toFixed(1), (0.000001234).toPrecision(2), (255).toString(16), (1/3).toString(2)] }] };') },
  { name: 'strings', source: prog('let s = ""; for (let i = 0; i < 2000; i++) s += String.fromCharCode(65 + (i % 26)); const parts = s.split("Z"); return { writes: [{ key: "s", value: [s.length, parts.length, s.indexOf("XYZA", 100), s.toLowerCase().slice(0, 30), s.replaceAll("A", "é").normalize("NFD").length, "ǅ".toUpperCase(), "İ".toLowerCase().length, "a".localeCompare("B")] }] };') },
  { name: 'arrays', source: prog('const a = []; for (let i = 0; i < 5000; i++) a.push((i * 7919) % 5003); const b = a.slice().sort((x, y) => x - y); const c = a.slice().sort(); return { writes: [{ key: "a", value: [b.slice(0, 5), c.slice(0, 5), a.includes(17), a.indexOf(4999), a.filter((x) => x % 2).length, a.reduce((x, y) => x + y, 0), [...new Set(a)].length, Object.keys(Object.fromEntries(a.slice(0, 50).map((x) => ["k" + x, x]))).length] }] };') },
  { name: 'json-edges', source: prog('const v = JSON.parse(\'{"b":1,"a":[1.5e300,-0,"\\\\u2028",{"z":null}],"\\\\ud83d\\\\ude00":true}\'); v.undef = undefined; v.nan = NaN; v.inf = -Infinity; v.fn = () => 1; v.date = { toJSON() { return "j" } }; return { writes: [{ key: "j", value: v }, { key: "t", value: JSON.stringify(v) }] };') },
  { name: 'deep-recursion', source: prog('function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } let d = 0; try { for (let n = 1; ; n++) { f(n); d = n; } } catch (e) { return { writes: [{ key: "depth", value: d }, { key: "e", value: String(e) }] }; }') },
  { name: 'deep-json', source: prog('const out = []; for (const n of [100, 1000, 10000, 100000]) { try { JSON.parse("[".repeat(n) + "]".repeat(n)); out.push(n); } catch (e) { out.push(e.name + ": " + e.message); } } return { writes: [{ key: "k", value: out }] };') },
  { name: 'big-write-paid', gasLimit: 100_000_000, source: prog('const v = "x".repeat(100000); const w = []; for (let i = 0; i < 20; i++) w.push({ key: "big/" + i, value: v + i }); return { writes: w };') },
  { name: 'big-write', source: prog('const v = "x".repeat(100000); const w = []; for (let i = 0; i < 20; i++) w.push({ key: "big/" + i, value: v }); return { writes: w };') },
  { name: 'state', source: prog('const a = state.get("a"); const b = state.get("b"); return { writes: [{ key: "sum", value: (a?.n ?? 0) + (b === null ? 100 : 0) }] };'), state: { a: { n: 41 } }, declare: ['b'] },
  { name: 'undeclared-read', source: prog('try { state.get("zzz"); } catch (e) {} return { writes: [] };'), state: { a: 1 } },
  { name: 'endless-loop', source: prog('for (;;) {}') },
  { name: 'exponential-recursion', source: prog('function f(n) { return n < 2 ? n : f(n - 1) + f(n - 2); } return { writes: [{ key: "f", value: f(40) }] };') },
  { name: 'memory-bomb', source: prog('const a = []; for (;;) a.push({ i: a.length, s: "x" + a.length });'), gasLimit: 1_000_000_000 },
  { name: 'string-doubling', source: prog('let s = "x"; for (;;) s = s + s;'), gasLimit: 1_000_000_000 },
  { name: 'catch-out-of-gas', source: prog('const a = new Array(10000).fill(1); let n = 0; for (;;) { try { a.includes(2); n++; } catch (e) { n++; } }'), gasLimit: 2_000_000 },
  { name: 'throw-non-error', source: prog('throw { toString() { for (;;) {} } };') },
  { name: 'throw-getter-message', source: prog('const e = new Error("x"); Object.defineProperty(e, "message", { get() { for (;;) {} } }); throw e;') },
  { name: 'cyclic-result', source: prog('const w = { key: "a", value: {} }; w.value.self = w.value; return { writes: [w] };') },
  { name: 'bigint-literal', source: prog('return { writes: [{ key: "a", value: String(2n ** 64n) }] };') },
  { name: 'escape-hatches', source: prog('const out = []; for (const t of [() => Function("return 1")(), () => (function(){}).constructor("return 1")(), () => eval("1"), () => Date.now(), () => Math.random(), () => new Proxy({}, {}), () => new WeakRef({}), () => globalThis.process.env, () => import("x"), () => new SharedArrayBuffer(8), () => Atomics, () => BigInt(1), () => new Uint8Array(4), () => setTimeout(() => 1, 0), () => (async function(){}).constructor("return 1")(), () => Promise.resolve(1), () => Array.prototype.includes.call({ length: 1e9 }, 1)]) { try { out.push(String(t())); } catch (e) { out.push(e.name); } } return { writes: [{ key: "out", value: out }] };') },
  { name: 'prototype-pollution', source: prog('try { Object.prototype.polluted = 1; } catch (e) {} try { Array.prototype.push = null; } catch (e) {} try { JSON.stringify = () => "{}"; } catch (e) {} try { globalThis.x = 1; } catch (e) {} try { args.evil = 1; state.get = () => 1; } catch (e) {} return { writes: [{ key: "p", value: [({}).polluted === undefined, typeof [].push, Object.isFrozen(globalThis), Object.isFrozen(state)] }] };'), state: {} },
  { name: 'module-top-level-loop', source: 'for (;;) {} export default {};' },
  { name: 'no-default-export', source: 'export const x = 1;' },
  { name: 'syntax-error', source: 'export default { apply( };' },
  { name: 'async-apply', source: 'export default { async apply() { return { writes: [] }; } };' },
  { name: 'parseConfig', source: 'export default { parseConfig(c) { if (typeof c.limit !== "number") throw new Error("limit"); return { limit: c.limit }; } };', method: 'parseConfig', args: [{ limit: 3 }] },
  { name: 'absent-admit', source: 'export default {};', method: 'admit', args: [] },
  { name: 'regex-backtracking', source: prog('return { writes: [{ key: "r", value: /(a+)+b/.test("a".repeat(40)) }] };') },
];

/** Builtin-heavy programs for the ceiling of milliseconds per million gas: each runs out of gas. */
export const BUILTIN_HEAVY: { name: string; source: string; gasLimit: number }[] = [
  { name: 'array-includes', gasLimit: 5_000_000, source: prog('const a = Array.from({ length: 100000 }, (_, i) => i); for (;;) a.includes(-1);') },
  { name: 'string-indexOf', gasLimit: 5_000_000, source: prog('const s = "ab".repeat(500000); for (;;) s.indexOf("abc");') },
  { name: 'string-indexOf-long-needle', gasLimit: 5_000_000, source: prog('const s = "a".repeat(100000); const n = "a".repeat(1000) + "b"; for (;;) s.indexOf(n);') },
  { name: 'array-sort', gasLimit: 5_000_000, source: prog('const a = Array.from({ length: 20000 }, (_, i) => (i * 7919) % 20011); for (;;) a.slice().sort();') },
  { name: 'json-roundtrip', gasLimit: 5_000_000, source: prog('const v = Array.from({ length: 5000 }, (_, i) => ({ i, s: "x" + i })); for (;;) JSON.parse(JSON.stringify(v));') },
  { name: 'string-split-join', gasLimit: 5_000_000, source: prog('const s = "a,".repeat(100000); for (;;) s.split(",").join(";");') },
  { name: 'plain-loop', gasLimit: 5_000_000, source: prog('let x = 0; for (;;) x++;') },
  { name: 'regex', gasLimit: 5_000_000, source: prog('for (;;) /(a+)+b/.test("a".repeat(30));') },
  // String concatenation is an operator, metered only by interrupt polls; the memory limit bounds
  // each operand, and a loop of concatenations of the longest strings stays under the ceiling.
  { name: 'string-concat', gasLimit: 5_000_000, source: prog('const s = "x".repeat(1 << 20); let t; for (;;) t = s + s;') },
  { name: 'template-concat', gasLimit: 5_000_000, source: prog('const s = "x".repeat(1 << 20); let t; for (;;) t = `${s}${s}`;') },
];

/**
 * Each case runs twice: first on a fresh runtime, then (its second call) from a warm slot, a
 * prepared copy restored before the call (src/platform/sandbox/warm.ts). `warm` says whether the
 * second outcome equalled the first, and `served` how many calls the warm slots served.
 */
export function runScenario(sandbox: Sandbox) {
  const warmBefore = sandbox.stats.warm;
  const results = SCENARIO.map((c) => {
    const call = () =>
      sandbox.run({
        source: c.source,
        method: c.method ?? 'apply',
        args: c.args ?? (c.method === undefined ? APPLY_ARGS : []),
        gasLimit: c.gasLimit ?? 10_000_000,
        state: c.state ? { declared: new Set(Object.keys(c.state).concat(c.declare ?? [])), get: (k) => c.state![k] } : undefined,
      });
    const out = call();
    const again = call();
    return { name: c.name, ...out, warm: JSON.stringify(again) === JSON.stringify(out) };
  });
  return results.map((r) => ({ ...r, served: sandbox.stats.warm - warmBefore }));
}
