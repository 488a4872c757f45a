/**
 * workerd fixture for the sandbox's determinism scenario: `wrangler dev` bundles this file, with
 * the QuickJS .wasm imported as a module (never compiled from bytes at run time), and every
 * request answers the scenario's results as JSON (sandbox-runtimes.test.ts compares them with Bun's).
 */
// @ts-expect-error: wrangler turns a .wasm import into a WebAssembly.Module; TypeScript has no type for it.
import wasmModule from '../../node_modules/@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm';
import { loadSandbox } from '../../src/platform/sandbox/load.ts';
import { runScenario } from './sandbox-scenario.ts';

export default {
  async fetch(): Promise<Response> {
    const sandbox = await loadSandbox({ wasmModule: wasmModule as WebAssembly.Module });
    return Response.json({ engine: sandbox.engine, results: runScenario(sandbox) });
  },
};
