import type { Sha256 } from '../core/hash.ts';
import { programId } from '../core/program-id.ts';
import type { Program } from '../core/programs/types.ts';
import type { Sandbox } from '../platform/sandbox/engine.ts';
import { SandboxedProgram } from '../platform/sandbox/sandboxed-program.ts';
import type { Database } from '../store/database.ts';
import { findProgram } from '../store/programs.ts';

const JS_NAME = /^js:([0-9a-f]{64})$/;

/**
 * The user programs (`js:<id>`, SPEC §7.1) this process has loaded, by name. `load` fetches one
 * from the store, checks that its id is the digest of its engine and source, and that this node
 * runs that engine; afterwards the core finds it in `loaded` like a native program. A name it
 * cannot load stays absent, so the core answers `unknown_program`.
 */
export class ProgramLibrary {
  readonly #loaded = new Map<string, Program>();

  constructor(
    private readonly db: Database,
    private readonly sandbox: () => Promise<Sandbox>,
    private readonly hash: Sha256,
  ) {}

  get loaded(): ReadonlyMap<string, Program> {
    return this.#loaded;
  }

  async load(name: unknown): Promise<void> {
    if (typeof name !== 'string' || this.#loaded.has(name)) return;
    const m = JS_NAME.exec(name);
    if (m === null) return;
    const row = await findProgram(this.db, m[1]!);
    if (row === undefined) return;
    const sandbox = await this.sandbox();
    // A node keeps every engine it ran; one it lacks cannot run the program (SPEC §7.1).
    if (row.engine !== sandbox.engine) return;
    if (programId(row.engine, row.source, this.hash) !== row.id) throw new Error(`stored program ${row.id} does not match its engine and source`);
    this.#loaded.set(name, new SandboxedProgram(row.id, row.source, sandbox));
  }
}
