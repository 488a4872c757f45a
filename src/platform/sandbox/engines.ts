import type { WarmLayout } from './warm.ts';

/**
 * The sandboxed engines this node knows (SPEC §7.1). An engine string names one exact build of
 * QuickJS in WebAssembly — the npm version and the first 16 hex digits of the SHA-256 of its
 * .wasm file — and fixes the gas prices and limits, so the same log gives the same receipts and
 * gas on every node. An entry is never changed or removed: a later build gets a new entry and
 * old subtrees keep replaying on theirs (a node refuses programs of an engine it cannot load).
 */
export interface EngineSpec {
  /** npm version of quickjs-emscripten-core and @jitl/quickjs-wasmfile-release-sync. */
  readonly version: string;
  /** SHA-256 of dist/emscripten-module.wasm, hex. */
  readonly wasmSha256: string;
  readonly prices: GasPrices;
  readonly limits: EngineLimits;
  /**
   * Where this build keeps its live memory (warm.ts): derived from the .wasm file itself — the
   * stack pointer's initial value (its one global) and the C stack's 5 MiB below it, above the
   * data segments (end 87,227) and BSS. Only how fast calls run depends on it, never their results.
   */
  readonly layout?: WarmLayout;
}

export interface GasPrices {
  /** Every call into the sandbox (a fresh runtime and context, the prelude, the module). */
  readonly base: number;
  /** One QuickJS interrupt poll (about 5,000-10,000 bytecode branches or calls). */
  readonly tick: number;
  /** Per array element a metered builtin walks. */
  readonly elem: number;
  /** Per UTF-16 code unit a metered string builtin reads or writes. */
  readonly char: number;
  /** Per object key a metered Object builtin walks. */
  readonly key: number;
  /** Per state.get (plus `char` per character of the key and of the value's JSON). */
  readonly hostCall: number;
  /** Per byte of the JSON of the writes `apply` returns. */
  readonly writeByte: number;
}

export interface EngineLimits {
  /** QuickJS malloc limit of one call, bytes. */
  readonly memoryBytes: number;
  /**
   * QuickJS stack limit, bytes. Measured on Bun 1.4.5, Node 20 and Deno 2.9 with this build:
   * 512 KiB (the default) reaches plain recursion depth 2,727 on Bun but overflows the host's own
   * stack on Node and Deno; 256 KiB overflows them too; 128 KiB stops at depth 679 on all three.
   * 64 KiB (depth ~330) leaves room for a caller that is itself deep in the host's stack.
   */
  readonly stackBytes: number;
}

const QUICKJS_WASM_0_32_0 = 'quickjs-wasm/0.32.0/105c3bed22d457e4';

export const ENGINES: Readonly<Record<string, EngineSpec>> = Object.freeze({
  [QUICKJS_WASM_0_32_0]: {
    version: '0.32.0',
    wasmSha256: '105c3bed22d457e43e3d1c3c1c6959fda62a8fe06f0fc8a985303c3a2be72232',
    prices: { base: 10_000, tick: 100_000, elem: 4, char: 1, key: 8, hostCall: 1_000, writeByte: 10 },
    limits: { memoryBytes: 8 * 1024 * 1024, stackBytes: 64 * 1024 },
    layout: { staticEnd: 5_333_088 - 5 * 1024 * 1024, stackTop: 5_333_088 },
  },
});

/** The engine new programs are stored under. */
export const CURRENT_ENGINE = QUICKJS_WASM_0_32_0;

/**
 * Gas limit of one admission call of a user program (`admit`, `credits`, and `reads` when asked
 * at the door), whatever the subtree's `gasLimit`: admission runs on the accept path, so a
 * hostile `admit` must cost little (1,000,000 gas is ~1-3 ms). Admission is a local filter that
 * never reaches a receipt, so this limit may change without a new engine.
 */
export const ADMIT_GAS_LIMIT = 1_000_000;

/** Default per-transaction gas limit (a subtree's config `gasLimit` overrides it). */
export const DEFAULT_GAS_LIMIT = 10_000_000;
