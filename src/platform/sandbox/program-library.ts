import type { Sha256 } from '../../core/hash.ts';
import { programId } from '../../core/program-id.ts';
import type { ProgramRegistry } from '../../core/programs/registry.ts';
import type { Program } from '../../core/programs/types.ts';
import type { Sandbox } from './engine.ts';
import { SandboxedProgram } from './sandboxed-program.ts';

/** `js:<id>`: the name a creation request gives a user program. */
export const USER_PROGRAM_NAME = /^js:([0-9a-f]{64})$/;

/** Where a user program's engine and source come from: the node's store, or (co-signer) its node. */
export type FindProgram = (id: string) => Promise<{ engine: string; source: string } | undefined>;

/**
 * A program registry: the deployment's programs (`programs` option, natives by default) plus the
 * user programs (`js:<id>`, SPEC §7.1) this process has loaded. `load(name)` fetches one, checks
 * that its id is the digest of its engine and source and that this process runs that engine;
 * afterwards `get` answers it like a native program. A name it cannot load stays absent, so
 * `programOf` answers `unknown_program`. `names` lists the deployment's programs only: which user
 * programs a process happens to have loaded says nothing about what it can run.
 */
export class ProgramLibrary implements ProgramRegistry {
  readonly #loaded = new Map<string, Program>();

  constructor(
    private readonly base: ProgramRegistry,
    private readonly find: FindProgram,
    private readonly sandbox: () => Promise<Sandbox>,
    private readonly hash: Sha256,
  ) {}

  get names(): readonly string[] {
    return this.base.names;
  }

  get(name: string): Program | undefined {
    return this.base.get(name) ?? this.#loaded.get(name);
  }

  async load(name: unknown): Promise<void> {
    if (typeof name !== 'string' || this.get(name) !== undefined) return;
    const m = USER_PROGRAM_NAME.exec(name);
    if (m === null) return;
    const id = m[1]!;
    const found = await this.find(id);
    if (found === undefined) return;
    if (programId(found.engine, found.source, this.hash) !== id) throw new Error(`program ${id}: its engine and source do not hash to its id`);
    const sandbox = await this.sandbox();
    // A node keeps every engine it ran; one it lacks cannot run the program (SPEC §7.1).
    if (found.engine !== sandbox.engine) return;
    this.#loaded.set(name, new SandboxedProgram(id, found.source, sandbox));
  }
}
