import { ApiError } from '../api/problem.ts';
import type { NodeContext } from '../services/context.ts';
import { dropFollow } from '../store/index.ts';

/** DELETE /v1/follows/:subtree — stops following and drops the replica; following again starts over. */
export async function dropFollowVerb(ctx: NodeContext, subtree: string): Promise<void> {
  if (!(await dropFollow(ctx.db, subtree))) throw new ApiError('unknown_follow', `this node does not follow subtree ${subtree}`);
  ctx.subtrees.forget(subtree);
}
