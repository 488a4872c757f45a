import { ApiError } from '../api/problem.ts';
import { programId } from '../core/program-id.ts';
import { USER_PROGRAM_NAME } from '../platform/sandbox/program-library.ts';
import type { PeerClient } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';
import { insertProgram } from '../store/programs.ts';
import { peerProblem } from './peer-for.ts';

/**
 * Before following a subtree that runs a user program (`js:<id>`, SPEC §7.1), fetch the program
 * from the origin (`GET /v1/programs/:id`), check that its id is the digest of its engine and
 * source (an origin serving another source for the id the signed creation request names is
 * caught here) and that this node runs that engine, and store it: the replica re-executes it,
 * serves it, and finds it again after a restart. Refused (nothing stored) otherwise.
 */
export async function fetchFollowedProgram(ctx: NodeContext, peer: PeerClient, name: unknown): Promise<void> {
  if (typeof name !== 'string' || ctx.programs.get(name) !== undefined) return;
  const m = USER_PROGRAM_NAME.exec(name);
  if (m === null) return; // a native name this node lacks: the creation request's check says so
  const id = m[1]!;
  let p;
  try {
    p = await peer.program(id);
  } catch (e) {
    throw peerProblem(e, `program ${id} at the origin`);
  }
  if (p.id !== id || programId(p.engine, p.source, ctx.hash) !== id) {
    throw new ApiError('origin_bad_answer', `the origin serves program ${id} with an engine and source that do not hash to that id`);
  }
  const engine = (await ctx.sandbox()).engine;
  // A node that lacks the named engine refuses to follow the subtree (SPEC §7.1).
  if (p.engine !== engine) throw new ApiError('unsupported_follow', `program ${id} runs on engine ${p.engine}; this node runs ${engine}`);
  await insertProgram(ctx.db, { id, engine: p.engine, source: p.source }, ctx.now());
  await ctx.programs.load(name);
}
