import { ApiError } from '../api/problem.ts';
import { programId } from '../core/program-id.ts';
import { wellFormed } from '../core/well-formed.ts';
import { sourceProblem } from '../platform/sandbox/engine.ts';
import { DEFAULT_GAS_LIMIT } from '../platform/sandbox/engines.ts';
import { insertProgram } from '../store/programs.ts';
import type { NodeContext } from './context.ts';

/** SPEC §7.1: a program's source is at most 64 KiB of UTF-8. */
export const MAX_PROGRAM_SOURCE_BYTES = 64 * 1024;

/**
 * POST /v1/programs (SPEC §7.1): checks the source — well-formed UTF-8 text, at most 64 KiB,
 * nothing the engine cannot meter, a module that evaluates (under the default gas limit) and
 * default-exports an object — then stores it under its id. Nothing is stored for a refused source.
 */
export async function uploadProgram(
  ctx: NodeContext,
  body: { source: string },
  opts: { admin: boolean },
): Promise<{ status: 200 | 201; body: { id: string; engine: string } }> {
  if (!opts.admin && !ctx.config.openPrograms) {
    throw new ApiError('unauthorized', 'uploading programs needs the admin token (or DSTP_OPEN_PROGRAMS on the node)');
  }
  const { source } = body;
  if (!wellFormed(source)) throw new ApiError('invalid_program', 'source is not well-formed Unicode (a lone surrogate cannot be UTF-8)');
  const bytes = new TextEncoder().encode(source).length;
  if (bytes > MAX_PROGRAM_SOURCE_BYTES) {
    throw new ApiError('payload_too_large', `source is ${bytes} bytes of UTF-8; the limit is ${MAX_PROGRAM_SOURCE_BYTES}`, { limit: MAX_PROGRAM_SOURCE_BYTES });
  }
  const problem = sourceProblem(source);
  if (problem !== undefined) throw new ApiError('invalid_program', problem);
  const sandbox = await ctx.sandbox();
  // Evaluate the module and look for a method no program has: the module loads, or the answer says why not.
  const out = sandbox.run({ source, method: ' load', args: [], gasLimit: DEFAULT_GAS_LIMIT });
  if (!out.ok) throw new ApiError('invalid_program', `the module does not load: ${out.code} (${out.message})`, { failure: out.code });
  const id = programId(sandbox.engine, source, ctx.hash);
  const added = await insertProgram(ctx.db, { id, engine: sandbox.engine, source }, ctx.now());
  return { status: added ? 201 : 200, body: { id, engine: sandbox.engine } };
}
