import { fail } from '../errors.ts';
import type { Program } from './types.ts';

/**
 * Where the node, the co-signer and replay find the program a subtree names (`subtree.program`).
 * Passed in by whoever builds them (`createNode({ programs })`, `new Cosigner({ programs })`), so
 * a deployment chooses what it runs; every entry implements the one `Program` interface, whether
 * native code (kv, token) or, later, a sandboxed engine's adapter. The client needs none: it
 * checks subtree ids and signatures without a program's code.
 */
export interface ProgramRegistry {
  /** The program called `name`, or undefined when this registry has none. */
  get(name: string): Program | undefined;
  /** The names it holds, sorted (listed by GET /v1/info). */
  readonly names: readonly string[];
}

/** A registry of the given programs, by their `name`; two with one name are a mistake. */
export function programRegistry(list: readonly Program[]): ProgramRegistry {
  const byName = new Map<string, Program>();
  for (const p of list) {
    if (byName.has(p.name)) throw new Error(`two programs are called "${p.name}"`);
    byName.set(p.name, p);
  }
  const names = Object.freeze([...byName.keys()].sort());
  return { get: (name) => byName.get(name), names };
}

/** The program called `name`; `unknown_program` when the registry has none. */
export function programOf(programs: ProgramRegistry, name: string): Program {
  const p = programs.get(name);
  if (p === undefined) fail('unknown_program', `unknown program "${name}"`, { program: name, known: programs.names });
  return p;
}
