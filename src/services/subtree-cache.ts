import { parseMode, type Mode } from '../core/consensus/mode.ts';
import { programOf } from '../core/programs/registry.ts';
import type { Program } from '../core/programs/types.ts';
import { getSubtree, type Database } from '../store/index.ts';
import type { ProgramLibrary } from '../platform/sandbox/program-library.ts';

/**
 * A subtree's creation facts (program, parsed config, mode) never change after creation, so they
 * are cached per process. Status and head DO change and are always read from the database.
 */
export interface SubtreeFacts {
  id: string;
  owner: string;
  parent: string;
  name: string;
  programName: string;
  program: Program;
  config: unknown;
  mode: Mode;
  /** Followed subtrees (SPEC §12): the hosting node's base URL; null when hosted here. */
  origin: string | null;
  /** How a followed subtree is checked here: `headers` keeps no state or log. */
  verify: 'full' | 'headers';
}

export class SubtreeCache {
  private readonly facts = new Map<string, SubtreeFacts>();
  private readonly loading = new Map<string, Promise<SubtreeFacts | undefined>>();

  constructor(
    private readonly db: Database,
    private readonly programs: ProgramLibrary,
    private readonly max = 10_000,
  ) {}

  /** `undefined` when no such subtree exists (not cached, so a later creation is seen). */
  get(id: string): Promise<SubtreeFacts | undefined> {
    const hit = this.facts.get(id);
    if (hit) return Promise.resolve(hit);
    // Concurrent misses (a batch's items) share one read.
    let p = this.loading.get(id);
    if (!p) {
      p = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  /** Drops a subtree's facts (a dropped replica): a later follow may bring it back. */
  forget(id: string): void {
    this.facts.delete(id);
  }

  private async load(id: string): Promise<SubtreeFacts | undefined> {
    const row = await getSubtree(this.db, id);
    if (!row) return undefined;
    await this.programs.load(row.program);
    const program = programOf(this.programs, row.program);
    const f: SubtreeFacts = {
      id: row.id,
      owner: row.owner,
      parent: row.parent,
      name: row.name,
      programName: row.program,
      program,
      config: program.parseConfig(row.config),
      mode: parseMode(row.mode),
      origin: row.origin ?? null,
      verify: row.verify === 'headers' ? 'headers' : 'full',
    };
    if (this.facts.size >= this.max) this.facts.delete(this.facts.keys().next().value!);
    this.facts.set(id, f);
    return f;
  }
}
