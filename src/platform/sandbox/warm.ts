import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten-core';

/**
 * A warm slot: one extra instance of the pinned QuickJS build (its own WebAssembly memory) that
 * keeps one program prepared — runtime, context, prelude run, module evaluated — and an image of
 * the memory that holds that state. Before each call the image is copied back, so every call
 * starts from exactly the bytes a fresh runtime would have reached at that point: the same heap,
 * the same allocator and garbage-collector state, the same interrupt counter, the same memory
 * accounting. Gas, memory and results cannot depend on what ran before (SPEC §7.1); tests run
 * the same calls through both paths and compare (test/unit/sandbox-warm.test.ts).
 *
 * Copying only the live memory is what makes this cheap. For the pinned build, `WarmLayout` says
 * where it is: static data below `staticEnd`, the C stack below `stackTop` (dead whenever no call
 * runs), the heap from `stackTop` up to the last byte written while preparing (memory above it
 * is zeroed first, so that is the heap's high-water mark, the allocator's break included). A
 * guard refuses a slot (its calls then take the fresh path) unless the stack's far end is
 * untouched (all zero): the layout is that of this build.
 */
export interface WarmLayout {
  /** End of static data and BSS (= the C stack's low end). */
  readonly staticEnd: number;
  /** The C stack's high end: the stack pointer's initial value, where the heap begins. */
  readonly stackTop: number;
}

interface Emscripten {
  HEAPU8: Uint8Array;
}

/** What the Sandbox hands a slot: the call's gas meter and host state, swapped per call. */
export interface SlotHost<S> {
  session: S;
}

export interface PreparedContext {
  handles: QuickJSHandle[];
}

/** Bytes kept past the last written one. */
const TOP_SLACK = 64;
/** No call's C stack reaches this far below the top (QuickJS's own limit is 64 KiB). */
const STACK_REACH = 1024 * 1024;

export class WarmSlot {
  source: string | undefined;
  ready = false;
  lastUse = 0;
  /** Gas the preparation used: a call with a lower limit takes the fresh path. */
  used = 0;
  readonly #em: Emscripten;
  #rt: QuickJSRuntime | undefined;
  #ctx: QuickJSContext | undefined;
  #prepared: PreparedContext | undefined;
  #host: SlotHost<unknown> | undefined;
  #staticImage = new Uint8Array(0);
  #heapImage = new Uint8Array(0);
  /** The instance's memory before any runtime: restored before preparing another program. */
  readonly #base: { staticImage: Uint8Array; heapImage: Uint8Array } | undefined;
  #dead = false;
  static #uses = 0;

  constructor(
    private readonly module: QuickJSWASMModule,
    private readonly layout: WarmLayout,
  ) {
    this.#em = (module as unknown as { module: Emscripten }).module;
    const top = this.#probeTop();
    this.#base = top === undefined ? undefined : { staticImage: this.#em.HEAPU8.slice(0, layout.staticEnd), heapImage: this.#em.HEAPU8.slice(layout.stackTop, top) };
    if (this.#base === undefined) this.#dead = true;
  }

  get ctx(): QuickJSContext {
    return this.#ctx!;
  }

  /**
   * Prepares `source` in this slot. `begin` makes the runtime's host side (limits, interrupt
   * handler) for a preparation session; `prepare` runs everything before the method call and
   * returns the prepared context, or anything else when the source does not prepare (then the
   * slot stays not ready for this source, and its calls take the fresh path).
   */
  prepare<S>(
    source: string,
    begin: (rt: QuickJSRuntime) => { host: SlotHost<S>; used: () => number; clean: () => boolean },
    prepare: (ctx: QuickJSContext, host: SlotHost<S>) => PreparedContext | unknown,
  ): void {
    this.release();
    this.source = source;
    this.lastUse = ++WarmSlot.#uses;
    if (this.#dead) return;
    const mem = this.#em.HEAPU8;
    mem.set(this.#base!.staticImage, 0);
    mem.set(this.#base!.heapImage, this.layout.stackTop);
    mem.fill(0, this.layout.stackTop + this.#base!.heapImage.length);
    const rt = this.module.newRuntime();
    this.#rt = rt;
    const { host, used, clean } = begin(rt);
    this.#host = host as SlotHost<unknown>;
    this.#ctx = rt.newContext({
      intrinsics: { BaseObjects: true, Eval: true, JSON: true, MapSet: true, RegExp: true, StringNormalize: true, Promise: true },
    });
    const p = prepare(this.#ctx, host) as PreparedContext | undefined;
    if (p === undefined || p === null || !Array.isArray((p as PreparedContext).handles) || !clean()) {
      if (p && Array.isArray((p as PreparedContext).handles)) this.#prepared = p as PreparedContext;
      this.release();
      this.source = source;
      return;
    }
    this.#prepared = p as PreparedContext;
    const top = this.#probeTop();
    if (top === undefined) {
      this.release();
      this.source = source;
      return;
    }
    this.used = used();
    this.#staticImage = this.#em.HEAPU8.slice(0, this.layout.staticEnd);
    this.#heapImage = this.#em.HEAPU8.slice(this.layout.stackTop, top);
    this.ready = true;
  }

  /** Runs one call from the prepared state: memory restored, the host serving `session`. */
  run<S, T>(session: S, invoke: (slot: { ctx: QuickJSContext; session: S }, prepared: PreparedContext) => T): T {
    const mem = this.#em.HEAPU8;
    mem.set(this.#staticImage, 0);
    mem.set(this.#heapImage, this.layout.stackTop);
    this.#host!.session = session;
    this.lastUse = ++WarmSlot.#uses;
    return invoke({ ctx: this.#ctx!, session }, this.#prepared!);
  }

  /** Disposes the prepared program; a slot that cannot is retired. */
  release(): void {
    this.ready = false;
    this.source = undefined;
    try {
      if (this.#prepared) for (let i = this.#prepared.handles.length - 1; i >= 0; i--) if (this.#prepared.handles[i]!.alive) this.#prepared.handles[i]!.dispose();
      this.#ctx?.dispose();
      this.#rt?.dispose();
    } catch {
      this.#dead = true;
    }
    this.#prepared = undefined;
    this.#ctx = undefined;
    this.#rt = undefined;
    this.#host = undefined;
  }

  /**
   * The end of the heap's live bytes: past the last byte ever written (the allocator's break and
   * its end-of-segment marker lie below it; memory above it was zeroed before preparing, so
   * nothing there was ever used). Undefined unless the stack's far end is untouched too.
   */
  #probeTop(): number | undefined {
    const { staticEnd, stackTop } = this.layout;
    const mem = this.#em.HEAPU8;
    if (!zero(mem, staticEnd, stackTop - STACK_REACH)) return undefined;
    const last = lastNonZero(mem);
    return last < stackTop ? stackTop : Math.min(mem.length, (last & ~7) + 8 + TOP_SLACK);
  }
}

function lastNonZero(mem: Uint8Array): number {
  const words = new BigUint64Array(mem.buffer, mem.byteOffset, Math.floor(mem.length / 8));
  let j = words.length - 1;
  while (j >= 0 && words[j] === 0n) j--;
  return j * 8 + 7;
}

function zero(mem: Uint8Array, from: number, to: number): boolean {
  let i = from;
  for (; i < to && i % 8 !== 0; i++) if (mem[i] !== 0) return false;
  const words = new BigUint64Array(mem.buffer, mem.byteOffset + i, Math.max(0, Math.floor((to - i) / 8)));
  for (let j = 0; j < words.length; j++) if (words[j] !== 0n) return false;
  for (i += words.length * 8; i < to; i++) if (mem[i] !== 0) return false;
  return true;
}
