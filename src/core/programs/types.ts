import type { JsonValue } from '../jcs.ts';

/**
 * A program is a pure, deterministic function of (state, transaction). It never reads clocks,
 * randomness, the environment or the network; everything it may look at is in the state view,
 * and it declares up front which keys a call reads so the executor can load them in one batch.
 */
export interface ProgramTx {
  sender: string;
  nonce: number;
  call: string;
  args: Record<string, JsonValue>;
}

/**
 * Read-only view of state as of the start of the transaction (including earlier writes in the
 * round). `undefined` means the key is absent.
 */
export interface StateView {
  get(key: string): JsonValue | undefined;
}

/** `null` deletes the key. Keys under `sys/` are refused by the executor. */
export type Writes = Map<string, JsonValue | null>;

/**
 * `gas` is reported by metered (user) programs only and goes into the receipt (SPEC §7.1). A
 * metered program may fail with `undeclared_read`: for it that is a failure code, not a bug that
 * aborts the round.
 */
export type ProgramResult = { ok: true; writes: Writes; gas?: number } | { ok: false; code: string; gas?: number };

/**
 * Admission at accept time (SPEC §7.1 `admit`): may this transaction still succeed, given the
 * latest final state and the credits of transactions accepted before it and not yet executed?
 * A filter that keeps what cannot succeed out of the log; execution stays the authority, so an
 * admission may be generous but must never refuse what execution would accept.
 */
export interface Admission<Config = unknown> {
  /** Keys of the latest final state that `admit` looks at. */
  reads(config: Config, tx: ProgramTx): string[];
  /** Keys this transaction may raise once executed: while it is pending, they are credited. */
  credits(config: Config, tx: ProgramTx): string[];
  /** `null` admits; a failure code refuses (the code execution would give). */
  admit(config: Config, tx: ProgramTx, state: StateView, credited: ReadonlySet<string>): string | null;
}

export interface Program<Config = unknown> {
  readonly name: string;
  /** The calls `checkCall` accepts (listed in `unknown_call` problems and docs/programs.md). */
  readonly calls: readonly string[];
  /** Validates and normalizes the subtree's `config`; throws DstpError('invalid_config'). */
  parseConfig(config: unknown): Config;
  /** Validates the genesis entries against the config; throws DstpError('invalid_genesis'). */
  checkGenesis(config: Config, entries: readonly { key: string; value: JsonValue }[]): void;
  /**
   * Structural check of a call at accept time (unknown call, wrong arg types) so malformed
   * transactions are refused before they reach the log; throws DstpError('unknown_call' | 'invalid_args').
   */
  checkCall(config: Config, call: string, args: Record<string, JsonValue>): void;
  /**
   * The state keys `apply` may read for this transaction. Called only after `checkCall` passed.
   * Reading any other key makes the executor's view throw `undeclared_read` and abort the round.
   */
  reads(config: Config, tx: ProgramTx): string[];
  /**
   * Executes one transaction whose call passed `checkCall`. Failures are codes (`[a-z][a-z0-9_]*`),
   * never exceptions; an exception anyway becomes the failure `program_error`.
   */
  apply(config: Config, state: StateView, tx: ProgramTx): ProgramResult;
  /** Optional admission check at accept time; programs without one admit every well-formed call. */
  readonly admission?: Admission<Config>;
}
