/**
 * The sandbox's determinism scenario (SPEC §7.1): the same programs on every runtime must give
 * the same results, failure codes and gas. Prints one JSON line { results, timings }; the test
 * compares `results` across runtimes byte for byte and checks `timings` against the ceiling of
 * milliseconds per million gas. Runs under Bun, Deno and (bundled) Node.
 */
import { loadSandbox } from '../../src/platform/sandbox/load.ts';
import { APPLY_ARGS, BUILTIN_HEAVY, runScenario } from './sandbox-scenario.ts';

const sandbox = await loadSandbox();
const results = runScenario(sandbox);
const timings = BUILTIN_HEAVY.map((c) => {
  const t = performance.now();
  const out = sandbox.run({ source: c.source, method: 'apply', args: APPLY_ARGS, gasLimit: c.gasLimit });
  const ms = performance.now() - t;
  return { name: c.name, code: out.ok ? 'ok' : out.code, gas: out.gas, ms, msPerMillionGas: (ms * 1e6) / out.gas };
});
console.log(JSON.stringify({ results, timings }));
