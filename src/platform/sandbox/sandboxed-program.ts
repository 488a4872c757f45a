import { fail } from '../../core/errors.ts';
import type { JsonValue } from '../../core/jcs.ts';
import { isSysKey } from '../../core/programs/common.ts';
import type { Admission, Program, ProgramResult, ProgramTx, StateView, Writes } from '../../core/programs/types.ts';
import { ADMIT_GAS_LIMIT, DEFAULT_GAS_LIMIT } from './engines.ts';
import type { Sandbox, SandboxOutcome } from './engine.ts';

/**
 * A user program (SPEC §7.1) behind the core's one `Program` interface: each method is one
 * sandboxed call of the module's method of the same name. Its name is `js:<id>`.
 *
 * Config: the subtree's `config` goes whole to the program's `parseConfig`; an optional
 * `gasLimit` (integer 1..MAX_GAS_LIMIT, default 10,000,000) is read by the node first and is
 * the limit of every call of this subtree's program.
 */
export interface SandboxedConfig {
  readonly gasLimit: number;
  /** What the program's `parseConfig` returned. */
  readonly program: JsonValue;
}

export const MAX_GAS_LIMIT = 1_000_000_000;
const CODE_RE = /^[a-z][a-z0-9_]{0,63}$/;

export class SandboxedProgram implements Program<SandboxedConfig> {
  readonly name: string;
  /**
   * A user program's calls are whatever its checkCall accepts: not known up front, so none are
   * listed. Its checkCall refuses an unknown call like any other: `invalid_args` with the program's message.
   */
  readonly calls: readonly string[] = [];
  /**
   * checkCall and reads are asked at accept time, when planning a round's reads and again when
   * executing it; they are pure functions of their arguments, so their answers are remembered.
   */
  #memo = new Map<string, string[] | string | null>();
  /** Built on first use: undefined until then, null when the module defines no `admit`. */
  #admission: Admission<SandboxedConfig> | null | undefined;
  #hasCredits: boolean | undefined;

  constructor(
    readonly id: string,
    readonly source: string,
    private readonly sandbox: Sandbox,
  ) {
    this.name = `js:${id}`;
  }

  parseConfig(config: unknown): SandboxedConfig {
    let gasLimit = DEFAULT_GAS_LIMIT;
    let rest = config as JsonValue;
    if (config !== null && typeof config === 'object' && !Array.isArray(config) && Object.hasOwn(config, 'gasLimit')) {
      const { gasLimit: g, ...others } = config as { gasLimit: unknown } & Record<string, JsonValue>;
      if (typeof g !== 'number' || !Number.isSafeInteger(g) || g < 1 || g > MAX_GAS_LIMIT) {
        fail('invalid_config', `config.gasLimit must be an integer in 1..${MAX_GAS_LIMIT}`, { field: 'config.gasLimit' });
      }
      gasLimit = g;
      rest = others;
    }
    // The program sees its config without the node's `gasLimit`.
    const out = this.#call('parseConfig', [rest], gasLimit);
    if (!out.ok) fail('invalid_config', `the program's parseConfig failed: ${out.code} (${out.message})`, { code: out.code });
    return { gasLimit, program: out.absent ? rest : out.value };
  }

  checkGenesis(config: SandboxedConfig, entries: readonly { key: string; value: JsonValue }[]): void {
    for (const { key } of entries) if (isSysKey(key)) fail('invalid_genesis', `genesis key "${key}" is reserved for the node`, { key });
    const out = this.#call('checkGenesis', [config.program, entries.map((e) => ({ key: e.key, value: e.value }))], config.gasLimit);
    if (!out.ok) fail('invalid_genesis', `the program's checkGenesis failed: ${out.code} (${out.message})`, { code: out.code });
  }

  checkCall(config: SandboxedConfig, call: string, args: Record<string, JsonValue>): void {
    const memo = 'c' + JSON.stringify([config.gasLimit, config.program, call, args]);
    let refusal = this.#memo.get(memo);
    if (refusal === undefined) {
      const out = this.#call('checkCall', [config.program, call, args, null], config.gasLimit);
      refusal = out.ok ? null : `${out.code} (${out.message})`;
      this.#remember(memo, refusal);
    }
    if (refusal !== null) fail('invalid_args', `the program refused the call: ${refusal}`, { call });
  }

  reads(config: SandboxedConfig, tx: ProgramTx): string[] {
    const memo = 'r' + JSON.stringify([config.gasLimit, config.program, tx.call, tx.args, tx.sender]);
    let r = this.#memo.get(memo);
    if (r === undefined) {
      const out = this.#call('reads', [config.program, tx.call, tx.args, tx.sender], config.gasLimit);
      r = out.ok && Array.isArray(out.value) && out.value.every((k) => typeof k === 'string') ? (out.value as string[]) : null;
      this.#remember(memo, r);
    }
    if (r === null || typeof r === 'string') throw new Error('the program\'s reads failed or did not return an array of keys');
    return r;
  }

  /**
   * SPEC §7.1 admission, when the module defines `admit(config, call, args, sender, state)`:
   * `null`/nothing admits, `{ fail: "<code>" }` refuses. It sees the latest final state of the
   * keys `reads` declares for the call. Credits in flight are the keys the module's optional
   * `credits(config, call, args, sender)` names for transactions accepted and not yet executed:
   * a refusal that read one of them is not trusted (the pending credit may change it), so the
   * transaction is admitted. Admission is a filter: an admit that throws, runs out of gas or
   * returns anything else admits. Every admission call has its own gas limit, the subtree's
   * `gasLimit` capped at ADMIT_GAS_LIMIT, so a hostile admit costs the accept path ~1-3 ms.
   */
  get admission(): Admission<SandboxedConfig> | undefined {
    if (this.#admission === undefined) this.#admission = this.#defines('admit') ? this.#makeAdmission() : null;
    return this.#admission ?? undefined;
  }

  #makeAdmission(): Admission<SandboxedConfig> {
    const limit = (config: SandboxedConfig) => Math.min(config.gasLimit, ADMIT_GAS_LIMIT);
    const reads = (config: SandboxedConfig, tx: ProgramTx): string[] => {
      try {
        return this.reads({ ...config, gasLimit: limit(config) }, tx);
      } catch {
        return []; // admit then reads nothing: any read fails it, which admits
      }
    };
    return {
      reads,
      credits: (config, tx) => {
        if (!(this.#hasCredits ??= this.#defines('credits'))) return [];
        const memo = 'k' + JSON.stringify([limit(config), config.program, tx.call, tx.args, tx.sender]);
        let r = this.#memo.get(memo);
        if (r === undefined) {
          const out = this.#call('credits', [config.program, tx.call, tx.args, tx.sender], limit(config));
          r = out.ok && Array.isArray(out.value) && out.value.every((k) => typeof k === 'string') ? (out.value as string[]) : [];
          this.#remember(memo, r);
        }
        return Array.isArray(r) ? r : [];
      },
      admit: (config, tx, state, credited) => {
        const declared = new Set(reads(config, tx));
        const read: string[] = [];
        const out = this.sandbox.run({
          source: this.source,
          method: 'admit',
          args: [config.program, tx.call, tx.args, tx.sender],
          gasLimit: limit(config),
          state: { declared, get: (key) => (read.push(key), state.get(key)) },
        });
        if (!out.ok || out.value === null || typeof out.value !== 'object' || Array.isArray(out.value)) return null;
        const code = out.value.fail;
        if (typeof code !== 'string' || !CODE_RE.test(code)) return null;
        return read.some((k) => credited.has(k)) ? null : code;
      },
    };
  }

  /** Whether the module's default export has this method (asked once per method and program). */
  #defines(method: string): boolean {
    // A method that exists runs here with no arguments, bounded by the admission gas limit.
    const out = this.#call(method, [], ADMIT_GAS_LIMIT);
    return !(out.ok && out.absent === true);
  }

  #remember(memo: string, v: string[] | string | null): void {
    if (this.#memo.size >= 4096) this.#memo.clear();
    this.#memo.set(memo, v);
  }

  apply(config: SandboxedConfig, state: StateView, tx: ProgramTx): ProgramResult {
    const out = this.sandbox.run({
      source: this.source,
      method: 'apply',
      args: [config.program, tx.call, tx.args, tx.sender],
      gasLimit: config.gasLimit,
      state: { get: (key) => state.get(key) },
    });
    if (!out.ok) return { ok: false, code: out.code, gas: out.gas };
    return resultOf(out.value, out.gas);
  }

  #call(method: string, args: JsonValue[], gasLimit: number): SandboxOutcome {
    return this.sandbox.run({ source: this.source, method, args, gasLimit });
  }
}

/** `{ writes: [{ key, value | null }] }` or `{ fail: "<code>" }`; anything else is program_error. */
function resultOf(v: JsonValue, gas: number): ProgramResult {
  const bad: ProgramResult = { ok: false, code: 'program_error', gas };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad;
  if (typeof v.fail === 'string') return CODE_RE.test(v.fail) ? { ok: false, code: v.fail, gas } : bad;
  if (!Array.isArray(v.writes)) return bad;
  const writes: Writes = new Map();
  for (const w of v.writes) {
    if (w === null || typeof w !== 'object' || Array.isArray(w) || typeof w.key !== 'string' || !Object.hasOwn(w, 'value')) return bad;
    writes.set(w.key, w.value ?? null);
  }
  return { ok: true, writes, gas };
}
