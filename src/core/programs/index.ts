import { fail } from '../errors.ts';
import { kv } from './kv.ts';
import { token } from './token.ts';
import type { Program } from './types.ts';

/** The programs this node runs, by the name a creation request gives in `program`. */
export const programs: Readonly<Record<string, Program>> = Object.freeze({ kv, token } as Record<string, Program>);

/** Programs the caller has loaded beyond the native ones: user programs, by `js:<id>` (SPEC §7.1). */
export type LoadedPrograms = ReadonlyMap<string, Program>;

export function isProgramName(name: unknown, loaded?: LoadedPrograms): name is string {
  return typeof name === 'string' && (Object.hasOwn(programs, name) || loaded?.has(name) === true);
}

export function getProgram(name: string, loaded?: LoadedPrograms): Program {
  if (!isProgramName(name, loaded)) fail('unknown_program', `unknown program "${name}"`, { program: name, known: Object.keys(programs) });
  return Object.hasOwn(programs, name) ? programs[name]! : loaded!.get(name)!;
}
