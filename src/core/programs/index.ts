import { fail } from '../errors.ts';
import { kv } from './kv.ts';
import { token } from './token.ts';
import type { Program } from './types.ts';

/** The programs this node runs, by the name a creation request gives in `program`. */
export const programs: Readonly<Record<string, Program>> = Object.freeze({ kv, token } as Record<string, Program>);

export function isProgramName(name: unknown): name is string {
  return typeof name === 'string' && Object.hasOwn(programs, name);
}

export function getProgram(name: string): Program {
  if (!isProgramName(name)) fail('unknown_program', `unknown program "${name}"`, { program: name, known: Object.keys(programs) });
  return programs[name]!;
}
