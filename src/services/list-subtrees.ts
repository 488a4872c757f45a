import { listSubtrees } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { subtreeSummary, type SubtreeSummary } from './subtree-view.ts';

export interface ListPage<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
}

/** GET /v1/subtrees — id order, keyset-paged; `cursor` is the `next` of the previous page. */
export async function listSubtreesVerb(
  ctx: NodeContext,
  opts: { limit: number; cursor?: string; parent?: string },
): Promise<ListPage<SubtreeSummary>> {
  const page = await listSubtrees(ctx.db, {
    limit: opts.limit,
    ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
    ...(opts.parent !== undefined ? { parent: opts.parent } : {}),
  });
  return { items: page.items.map(subtreeSummary), ...(page.next !== null ? { next: page.next } : {}) };
}
