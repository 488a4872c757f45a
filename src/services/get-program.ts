import { ApiError } from '../api/problem.ts';
import { findProgram, type ProgramRow } from '../store/programs.ts';
import type { NodeContext } from './context.ts';

/** GET /v1/programs/:id (SPEC §7.1). */
export async function getProgram(ctx: NodeContext, id: string): Promise<ProgramRow> {
  const row = await findProgram(ctx.db, id);
  if (row === undefined) throw new ApiError('not_found', `no program ${id}`, { id });
  return row;
}
