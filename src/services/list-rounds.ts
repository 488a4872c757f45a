import { listRounds, subtreeHead } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { roundView, type RoundView } from './get-round.ts';
import { unknownSubtree } from './get-subtree.ts';
import type { ListPage } from './list-subtrees.ts';

/** GET /v1/subtrees/:id/rounds — by height, keyset-paged; `cursor` is the `next` of the previous page. */
export async function listRoundsVerb(
  ctx: NodeContext,
  subtree: string,
  opts: { limit: number; cursor?: number; order: 'asc' | 'desc' },
): Promise<ListPage<RoundView>> {
  const page = await listRounds(ctx.db, subtree, {
    limit: opts.limit,
    order: opts.order,
    ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
  });
  // Every subtree has round 0, so an empty first page means the subtree does not exist.
  if (page.items.length === 0 && !(await subtreeHead(ctx.db, subtree))) throw unknownSubtree(subtree);
  return { items: page.items.map(roundView), ...(page.next !== null ? { next: String(page.next) } : {}) };
}
