import type { QuickJSContext, QuickJSHandle, QuickJSWASMModule } from 'quickjs-emscripten-core';
import type { JsonValue } from '../../core/jcs.ts';
import { ENGINES, type EngineSpec } from './engines.ts';
import { PRELUDE } from './prelude.ts';

/**
 * One sandboxed call of a user program (SPEC §7.1): a fresh QuickJS runtime and context, the
 * prelude (prelude.ts), the program's module, one method, JSON in and JSON out. Nothing survives
 * the call, so gas, memory and results depend only on (engine, source, method, arguments, the
 * state it reads) — never on what ran before in this process.
 */

export type SandboxFailure = 'out_of_gas' | 'program_error' | 'out_of_memory' | 'undeclared_read';

export interface SandboxState {
  /** Keys the call may read; any other key fails it with `undeclared_read`. */
  readonly declared?: ReadonlySet<string>;
  /**
   * The value, or undefined when absent. It may throw an error whose `code` is
   * `undeclared_read` (the executor's view does) with the same effect as `declared`.
   */
  get(key: string): JsonValue | undefined;
}

export interface SandboxCall {
  /** The program's ES module source. */
  source: string;
  /** `parseConfig`, `checkGenesis`, `checkCall`, `reads`, `apply` or `admit`. */
  method: string;
  args: readonly JsonValue[];
  gasLimit: number;
  /** Given for `apply` and `admit`: passed as the last argument, an object with `get(key)`. */
  state?: SandboxState;
}

export type SandboxOutcome =
  | { ok: true; value: JsonValue; gas: number; /** The module has no such method. */ absent?: true }
  | { ok: false; code: SandboxFailure; gas: number; message: string };

/**
 * The host itself failed (its own stack overflowed, the WebAssembly instance trapped): not an
 * outcome of the program. It aborts the round on this node and never becomes a receipt; the
 * instance is discarded and the next call loads a new one.
 */
export class SandboxHostError extends Error {
  override readonly name = 'SandboxHostError';
  /** The executor rethrows such errors instead of turning them into a receipt (core/execute.ts). */
  readonly abortsRound = true;
}

/** Refuses what the engine cannot meter. BigInt literals: their operators run unmetered. */
export function sourceProblem(source: string): string | undefined {
  if (BIGINT_LITERAL.test(source)) return 'BigInt literals are not available in programs (their arithmetic is not metered)';
  return undefined;
}
const BIGINT_LITERAL = /(?:^|[^\w$.])(?:\d[\d_]*|0[xXoObB][\da-fA-F_]+)n(?![\w$])/;

/**
 * The prelude as QuickJS parses it on every call: without comment lines and indentation, which
 * QuickJS takes ~40 % longer to parse (1.19 -> 0.74 ms measured on Bun). Its behaviour, and so
 * its gas, is the same.
 */
const PRELUDE_TEXT = PRELUDE.split('\n')
  .map((l) => l.trim())
  .filter((l) => !l.startsWith('//'))
  .join('\n');

const NO_METHOD = 'no such method';
const UNDECLARED = { code: 'undeclared_read' };
const OUT_OF_GAS = 'out of gas';

interface Meter {
  used: number;
  exhausted: boolean;
  /** The first undeclared key the program read. */
  missed: string | undefined;
  /** A failure of the host's state view, rethrown after the call. */
  host: SandboxHostError | undefined;
}

export interface SandboxOptions {
  /** Override the engine's stack limit (tests of the host-overflow path only). */
  stackBytes?: number;
}

export class Sandbox {
  readonly spec: EngineSpec;
  #broken = false;
  #checked = new Map<string, string | undefined>();

  constructor(
    private readonly module: QuickJSWASMModule,
    readonly engine: string,
    private readonly options: SandboxOptions = {},
  ) {
    const spec = ENGINES[engine];
    if (spec === undefined) throw new Error(`unknown engine ${engine}`);
    this.spec = spec;
  }

  /** False once the host failed inside this instance; load a new one. */
  get usable(): boolean {
    return !this.#broken;
  }

  run(call: SandboxCall): SandboxOutcome {
    if (this.#broken) throw new SandboxHostError('this sandbox instance failed earlier; load a new one');
    const { prices, limits } = this.spec;
    const meter: Meter = { used: prices.base, exhausted: false, missed: undefined, host: undefined };
    const fail = (code: SandboxFailure, message: string): SandboxOutcome => ({
      ok: false,
      code,
      gas: code === 'out_of_gas' ? call.gasLimit : Math.min(meter.used, call.gasLimit),
      message,
    });
    let problem = this.#checked.get(call.source);
    if (problem === undefined && !this.#checked.has(call.source)) {
      problem = sourceProblem(call.source);
      if (this.#checked.size > 256) this.#checked.clear();
      this.#checked.set(call.source, problem);
    }
    if (problem !== undefined) return fail('program_error', problem);
    const add = (n: number): boolean => {
      meter.used += n > 0 ? Math.ceil(n) : 0;
      if (meter.used > call.gasLimit) meter.exhausted = true;
      return meter.exhausted;
    };
    if (add(0)) return fail('out_of_gas', OUT_OF_GAS);

    let rt;
    try {
      rt = this.module.newRuntime();
    } catch (e) {
      this.#broken = true;
      throw new SandboxHostError(`could not start a QuickJS runtime: ${String(e)}`, { cause: e });
    }
    try {
      rt.setMemoryLimit(limits.memoryBytes);
      rt.setMaxStackSize(this.options.stackBytes ?? limits.stackBytes);
      rt.setInterruptHandler(() => add(prices.tick));
      const ctx = rt.newContext({
        intrinsics: { BaseObjects: true, Eval: true, JSON: true, MapSet: true, RegExp: true, StringNormalize: true, Promise: true },
      });
      try {
        const out = this.#inContext(ctx, call, meter, add, fail);
        // The state the host handed in failed: not the program's doing, so not an outcome.
        if (meter.host !== undefined) throw meter.host;
        return out;
      } finally {
        ctx.dispose();
      }
    } catch (e) {
      if (e instanceof SandboxHostError) throw e;
      this.#broken = true;
      throw new SandboxHostError(`the host failed while running a program: ${String(e)}`, { cause: e });
    } finally {
      try {
        rt.dispose();
      } catch {
        this.#broken = true;
      }
    }
  }

  #inContext(
    ctx: QuickJSContext,
    call: SandboxCall,
    meter: Meter,
    add: (n: number) => boolean,
    fail: (code: SandboxFailure, message: string) => SandboxOutcome,
  ): SandboxOutcome {
    const { prices } = this.spec;
    const handles: QuickJSHandle[] = [];
    const keep = <T extends QuickJSHandle>(h: T): T => (handles.push(h), h);
    try {
      const charge = keep(
        ctx.newFunction('charge', (n) => {
          if (add(ctx.getNumber(n))) throw new Error(OUT_OF_GAS);
        }),
      );
      const readKey = keep(
        ctx.newFunction('readKey', (k) => {
          const key = ctx.getString(k);
          if (add(prices.hostCall + prices.char * key.length)) throw new Error(OUT_OF_GAS);
          const state = call.state;
          let v: JsonValue | undefined;
          try {
            if (state === undefined || (state.declared !== undefined && !state.declared.has(key))) throw UNDECLARED;
            v = state.get(key);
          } catch (e) {
            if ((e as { code?: unknown })?.code !== 'undeclared_read') {
              meter.host ??= new SandboxHostError(`state.get failed: ${String(e)}`, { cause: e });
              throw e;
            }
            meter.missed ??= key;
            throw new Error(`undeclared read of "${key}"`);
          }
          if (v === undefined) return ctx.undefined;
          const text = JSON.stringify(v);
          if (add(prices.char * text.length)) throw new Error(OUT_OF_GAS);
          return ctx.newString(text);
        }),
      );
      let classify: QuickJSHandle | undefined;
      const outcome = (h: { error?: QuickJSHandle; value?: QuickJSHandle }): QuickJSHandle | SandboxOutcome => {
        if (h.error !== undefined) {
          keep(h.error);
          if (meter.exhausted) return fail('out_of_gas', OUT_OF_GAS);
          if (meter.missed !== undefined) return fail('undeclared_read', `read "${meter.missed}" without declaring it`);
          const what = describe(ctx, classify, h.error);
          if (meter.exhausted) return fail('out_of_gas', OUT_OF_GAS);
          return what === '!oom' ? fail('out_of_memory', 'out of memory') : fail('program_error', what);
        }
        return keep(h.value!);
      };

      const preludeFn = outcome(ctx.evalCode(PRELUDE_TEXT, 'prelude.js', { type: 'global', strict: true }));
      if (!isHandle(preludeFn)) throw new Error(`the prelude failed: ${preludeFn.ok ? '' : preludeFn.message}`);
      const consts = [prices.elem, prices.char, prices.key].map((n) => keep(ctx.newNumber(n)));
      const pair = outcome(ctx.callFunction(preludeFn, ctx.undefined, charge, readKey, ...consts));
      if (!isHandle(pair)) throw new Error(`the prelude failed: ${pair.ok ? '' : pair.message}`);
      const invoke = keep(ctx.getProp(pair, 0));
      classify = keep(ctx.getProp(pair, 1));

      const ns = outcome(ctx.evalCode(call.source, 'program.js', { type: 'module' }));
      if (!isHandle(ns)) return ns;
      const program = keep(ctx.getProp(ns, 'default'));
      const result = outcome(
        ctx.callFunction(
          invoke,
          ctx.undefined,
          program,
          keep(ctx.newString(call.method)),
          keep(ctx.newString(JSON.stringify(call.args))),
          call.state !== undefined ? ctx.true : ctx.false,
        ),
      );
      if (!isHandle(result)) return result;
      // A program that caught one of these errors and carried on still failed.
      if (meter.exhausted) return fail('out_of_gas', OUT_OF_GAS);
      if (meter.missed !== undefined) return fail('undeclared_read', `read "${meter.missed}" without declaring it`);
      const text = ctx.getString(result);
      if (text === NO_METHOD) return { ok: true, value: null, gas: meter.used, absent: true };
      if (call.method === 'apply' && add(prices.writeByte * text.length)) return fail('out_of_gas', OUT_OF_GAS);
      return { ok: true, value: JSON.parse(text) as JsonValue, gas: meter.used };
    } finally {
      for (let i = handles.length - 1; i >= 0; i--) if (handles[i]!.alive) handles[i]!.dispose();
    }
  }
}

function isHandle(x: QuickJSHandle | SandboxOutcome): x is QuickJSHandle {
  return typeof (x as QuickJSHandle).dispose === 'function';
}

/**
 * What the program threw, through the prelude's `classify` (data properties only, so no getter
 * of the program runs): "!oom" for QuickJS's own allocation failure, else "Name: message". If
 * classifying fails too (memory is still short), it was out of memory.
 */
function describe(ctx: QuickJSContext, classify: QuickJSHandle | undefined, err: QuickJSHandle): string {
  if (classify === undefined) return 'program error';
  const r = ctx.callFunction(classify, ctx.undefined, err);
  if (r.error !== undefined) {
    r.error.dispose();
    return '!oom';
  }
  try {
    return ctx.typeof(r.value) === 'string' ? ctx.getString(r.value) : 'program error';
  } finally {
    r.value.dispose();
  }
}
