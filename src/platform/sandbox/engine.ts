import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten-core';
import type { JsonValue } from '../../core/jcs.ts';
import { ENGINES, type EngineSpec } from './engines.ts';
import { PRELUDE } from './prelude.ts';
import { WarmSlot } from './warm.ts';

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

/** The call the host functions and the interrupt handler of a runtime serve right now. */
interface Session {
  call: SandboxCall;
  meter: Meter;
  add: (n: number) => boolean;
  fail: (code: SandboxFailure, message: string) => SandboxOutcome;
}

/** A context with the prelude run and the program's module evaluated: ready for `invoke`. */
interface Prepared {
  handles: QuickJSHandle[];
  invoke: QuickJSHandle;
  classify: QuickJSHandle;
  program: QuickJSHandle;
}

export interface SandboxOptions {
  /** Override the engine's stack limit (tests of the host-overflow path only). */
  stackBytes?: number;
}

export class Sandbox {
  readonly spec: EngineSpec;
  #broken = false;
  #checked = new Map<string, string | undefined>();
  readonly #warm: WarmSlot[];
  #recentMisses: string[] = [];
  /** Calls served from a prepared program (warm) and from a fresh runtime: the bench reports them. */
  readonly stats = { warm: 0, fresh: 0 };

  constructor(
    private readonly module: QuickJSWASMModule,
    readonly engine: string,
    private readonly options: SandboxOptions = {},
    /** Extra instances of the same build that keep a prepared program (warm.ts); none by default. */
    warm: readonly QuickJSWASMModule[] = [],
  ) {
    const spec = ENGINES[engine];
    if (spec === undefined) throw new Error(`unknown engine ${engine}`);
    this.spec = spec;
    const layout = spec.layout;
    this.#warm = layout !== undefined && options.stackBytes === undefined ? warm.map((m) => new WarmSlot(m, layout)) : [];
  }

  /** False once the host failed inside this instance; load a new one. */
  get usable(): boolean {
    return !this.#broken;
  }

  run(call: SandboxCall): SandboxOutcome {
    if (this.#broken) throw new SandboxHostError('this sandbox instance failed earlier; load a new one');
    const session = this.#session(call);
    const { meter, fail, add } = session;
    let problem = this.#checked.get(call.source);
    if (problem === undefined && !this.#checked.has(call.source)) {
      problem = sourceProblem(call.source);
      if (this.#checked.size > 256) this.#checked.clear();
      this.#checked.set(call.source, problem);
    }
    if (problem !== undefined) return fail('program_error', problem);
    if (add(0)) return fail('out_of_gas', OUT_OF_GAS);

    const slot = this.#slotFor(call);
    if (slot !== undefined) {
      // The prepared state is what this call would have reached: its gas included.
      meter.used = slot.used;
      this.stats.warm++;
      let out: SandboxOutcome;
      try {
        out = slot.run(session, (s, p) => this.#invoke(s.ctx, s.session, p as Prepared));
      } catch (e) {
        this.#broken = true;
        throw new SandboxHostError(`the host failed while running a program: ${String(e)}`, { cause: e });
      }
      if (meter.host !== undefined) throw meter.host;
      return out;
    }

    this.stats.fresh++;
    let rt;
    try {
      rt = this.module.newRuntime();
    } catch (e) {
      this.#broken = true;
      throw new SandboxHostError(`could not start a QuickJS runtime: ${String(e)}`, { cause: e });
    }
    try {
      const host = this.#configure(rt, session);
      const ctx = rt.newContext({ intrinsics: INTRINSICS });
      try {
        const prepared = this.#prepare(ctx, host);
        if (!isPrepared(prepared)) {
          if (meter.host !== undefined) throw meter.host;
          return prepared;
        }
        try {
          const out = this.#invoke(ctx, session, prepared);
          // The state the host handed in failed: not the program's doing, so not an outcome.
          if (meter.host !== undefined) throw meter.host;
          return out;
        } finally {
          disposeAll(prepared.handles);
        }
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

  /** A call's gas meter, starting at the base price. */
  #session(call: SandboxCall): Session {
    const meter: Meter = { used: this.spec.prices.base, exhausted: false, missed: undefined, host: undefined };
    const fail = (code: SandboxFailure, message: string): SandboxOutcome => ({
      ok: false,
      code,
      gas: code === 'out_of_gas' ? call.gasLimit : Math.min(meter.used, call.gasLimit),
      message,
    });
    const add = (n: number): boolean => {
      meter.used += n > 0 ? Math.ceil(n) : 0;
      if (meter.used > call.gasLimit) meter.exhausted = true;
      return meter.exhausted;
    };
    return { call, meter, add, fail };
  }

  /**
   * A warm slot holding this call's program, prepared with no more gas than the call's limit
   * (the least recently used slot is prepared anew on a miss), or none: the fresh path.
   */
  #slotFor(call: SandboxCall): WarmSlot | undefined {
    if (this.#warm.length === 0) return undefined;
    let slot = this.#warm.find((w) => w.source === call.source);
    if (slot === undefined) {
      // Prepared on its second call within the last few misses: one-off programs (an upload's
      // check, many programs taking turns) would only evict the ones running in rounds.
      if (!this.#recentMisses.includes(call.source)) {
        this.#recentMisses.push(call.source);
        if (this.#recentMisses.length > RECENT_MISSES) this.#recentMisses.shift();
        return undefined;
      }
      slot = this.#warm.reduce((a, b) => (a.lastUse <= b.lastUse ? a : b));
      slot.prepare(
        call.source,
        (rt) => {
          // Under this call's limit: a module whose top level does not finish within it is
          // not prepared (its calls take the fresh path and fail there as they must).
          const s = this.#session({ source: call.source, method: '', args: [], gasLimit: call.gasLimit });
          const host = this.#configure(rt, s);
          const m = s.meter;
          return { host, used: () => m.used, clean: () => !m.exhausted && m.missed === undefined && m.host === undefined };
        },
        (ctx, host) => {
          const p = this.#prepare(ctx, host as { session: Session });
          return isPrepared(p) ? p : undefined;
        },
      );
    }
    return slot.ready && slot.used <= call.gasLimit ? slot : undefined;
  }

  /** Limits and the interrupt handler of a runtime; the handler charges whichever call `host.session` is. */
  #configure(rt: QuickJSRuntime, session: Session): { session: Session } {
    const { prices, limits } = this.spec;
    const host = { session };
    rt.setMemoryLimit(limits.memoryBytes);
    rt.setMaxStackSize(this.options.stackBytes ?? limits.stackBytes);
    rt.setInterruptHandler(() => host.session.add(prices.tick));
    return host;
  }

  /**
   * Everything before the method call: the host functions, the prelude, the program's module and
   * its default export. The host functions serve `host.session`, so a prepared context can serve
   * one call after another (warm.ts restores its memory before each).
   */
  #prepare(ctx: QuickJSContext, host: { session: Session }): Prepared | SandboxOutcome {
    const { prices } = this.spec;
    const handles: QuickJSHandle[] = [];
    const keep = <T extends QuickJSHandle>(h: T): T => (handles.push(h), h);
    let done = false;
    try {
      const charge = keep(
        ctx.newFunction('charge', (n) => {
          if (host.session.add(ctx.getNumber(n))) throw new Error(OUT_OF_GAS);
        }),
      );
      const readKey = keep(
        ctx.newFunction('readKey', (k) => {
          const { call, meter, add } = host.session;
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
      const session = host.session;
      const outcome = (h: { error?: QuickJSHandle; value?: QuickJSHandle }) => settle(ctx, session, undefined, h, keep);
      // The prelude itself costs gas (an interrupt poll): a limit below it is out of gas, and
      // any other failure of the prelude is the host's.
      const preludeFn = outcome(ctx.evalCode(PRELUDE_TEXT, 'prelude.js', { type: 'global', strict: true }));
      if (!isHandle(preludeFn)) return preludeFailed(session, preludeFn);
      const consts = [prices.elem, prices.char, prices.key].map((n) => keep(ctx.newNumber(n)));
      const pair = outcome(ctx.callFunction(preludeFn, ctx.undefined, charge, readKey, ...consts));
      if (!isHandle(pair)) return preludeFailed(session, pair);
      const invoke = keep(ctx.getProp(pair, 0));
      const classify = keep(ctx.getProp(pair, 1));

      const ns = settle(ctx, session, classify, ctx.evalCode(session.call.source, 'program.js', { type: 'module' }), keep);
      if (!isHandle(ns)) return ns;
      const program = keep(ctx.getProp(ns, 'default'));
      done = true;
      return { handles, invoke, classify, program };
    } finally {
      if (!done) disposeAll(handles);
    }
  }

  /** The method call of a prepared context, and its outcome. */
  #invoke(ctx: QuickJSContext, session: Session, p: Prepared): SandboxOutcome {
    const { call, meter, add, fail } = session;
    const handles: QuickJSHandle[] = [];
    const keep = <T extends QuickJSHandle>(h: T): T => (handles.push(h), h);
    try {
      const result = settle(
        ctx,
        session,
        p.classify,
        ctx.callFunction(
          p.invoke,
          ctx.undefined,
          p.program,
          keep(ctx.newString(call.method)),
          keep(ctx.newString(JSON.stringify(call.args))),
          call.state !== undefined ? ctx.true : ctx.false,
        ),
        keep,
      );
      if (!isHandle(result)) return result;
      // A program that caught one of these errors and carried on still failed.
      if (meter.exhausted) return fail('out_of_gas', OUT_OF_GAS);
      if (meter.missed !== undefined) return fail('undeclared_read', `read "${meter.missed}" without declaring it`);
      const text = ctx.getString(result);
      if (text === NO_METHOD) return { ok: true, value: null, gas: meter.used, absent: true };
      if (call.method === 'apply' && add(this.spec.prices.writeByte * text.length)) return fail('out_of_gas', OUT_OF_GAS);
      return { ok: true, value: JSON.parse(text) as JsonValue, gas: meter.used };
    } finally {
      disposeAll(handles);
    }
  }
}

const RECENT_MISSES = 8;
const INTRINSICS = { BaseObjects: true, Eval: true, JSON: true, MapSet: true, RegExp: true, StringNormalize: true, Promise: true } as const;

/** A value handle, or the failure an error handle means (through the prelude's `classify`). */
function settle(
  ctx: QuickJSContext,
  { meter, fail }: Session,
  classify: QuickJSHandle | undefined,
  h: { error?: QuickJSHandle; value?: QuickJSHandle },
  keep: (h: QuickJSHandle) => QuickJSHandle,
): QuickJSHandle | SandboxOutcome {
  if (h.error !== undefined) {
    keep(h.error);
    if (meter.exhausted) return fail('out_of_gas', OUT_OF_GAS);
    if (meter.missed !== undefined) return fail('undeclared_read', `read "${meter.missed}" without declaring it`);
    const what = describe(ctx, classify, h.error);
    if (meter.exhausted) return fail('out_of_gas', OUT_OF_GAS);
    return what === '!oom' ? fail('out_of_memory', 'out of memory') : fail('program_error', what);
  }
  return keep(h.value!);
}

function preludeFailed({ meter }: Session, out: SandboxOutcome): SandboxOutcome {
  if (meter.exhausted && !out.ok && out.code === 'out_of_gas') return out;
  throw new Error(`the prelude failed: ${out.ok ? '' : out.message}`);
}

function disposeAll(handles: QuickJSHandle[]): void {
  for (let i = handles.length - 1; i >= 0; i--) if (handles[i]!.alive) handles[i]!.dispose();
}

function isPrepared(x: Prepared | SandboxOutcome): x is Prepared {
  return (x as Prepared).invoke !== undefined;
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
