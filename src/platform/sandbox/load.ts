import variant from '@jitl/quickjs-wasmfile-release-sync';
import { newQuickJSWASMModuleFromVariant, newVariant } from 'quickjs-emscripten-core';
import { CURRENT_ENGINE, ENGINES } from './engines.ts';
import { Sandbox, type SandboxOptions } from './engine.ts';

/** Programs kept prepared per process (each slot is one more instance of the build). */
export const DEFAULT_WARM_SLOTS = 2;

/**
 * Loads the pinned QuickJS build (engines.ts) once per process. The .wasm comes from the npm
 * package, never from user bytes: on Bun, Node and Deno it is read from node_modules and its
 * SHA-256 must match the engine string; on workerd wrangler bundles it as a module import and
 * the worker passes the compiled module in (`wasmModule`).
 */
export async function loadSandbox(opts: SandboxOptions & { wasmModule?: WebAssembly.Module; warm?: number } = {}): Promise<Sandbox> {
  const spec = ENGINES[CURRENT_ENGINE]!;
  let wasmModule = opts.wasmModule;
  if (wasmModule === undefined) {
    const { readFile } = await import('node:fs/promises');
    const { createRequire } = await import('node:module');
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    const bytes = new Uint8Array(await readFile(path));
    const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
    if (digest !== spec.wasmSha256) {
      throw new Error(`${path} has SHA-256 ${digest}, not the ${CURRENT_ENGINE} build (${spec.wasmSha256}): reinstall the pinned version`);
    }
    wasmModule = new WebAssembly.Module(bytes);
  }
  const load = () => newQuickJSWASMModuleFromVariant(newVariant(variant, { wasmModule }));
  const module = await load();
  // Extra instances that keep recently run programs prepared (warm.ts): 16 MiB of memory each.
  const warm = await Promise.all(Array.from({ length: opts.warm ?? DEFAULT_WARM_SLOTS }, load));
  return new Sandbox(module, CURRENT_ENGINE, opts, warm);
}
