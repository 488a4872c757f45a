import { ApiError } from '../api/problem.ts';
import { getFollow, getSubtree } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { subtreeHead, type SubtreeHead } from './subtree-view.ts';

/** GET /v1/subtrees/:id — the head is read fresh: height, root and status move with every round. */
export async function getSubtreeVerb(ctx: NodeContext, id: string): Promise<SubtreeHead> {
  const row = await getSubtree(ctx.db, id);
  if (!row) throw unknownSubtree(id);
  const head = subtreeHead(row);
  if (row.origin) {
    // SPEC §12: a followed subtree's status is the follow's own.
    const f = await getFollow(ctx.db, id);
    if (f) head.status = f.status;
  }
  return head;
}

export function unknownSubtree(id: string): ApiError {
  return new ApiError('unknown_subtree', `no subtree ${id} on this node`);
}
