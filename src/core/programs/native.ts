import { kv } from './kv.ts';
import { programRegistry, type ProgramRegistry } from './registry.ts';
import { token } from './token.ts';
import type { Program } from './types.ts';

/** The native programs of SPEC §7: the default of the node, the co-signer and replay. */
export const NATIVE_PROGRAMS: ProgramRegistry = programRegistry([kv as Program, token as Program]);
