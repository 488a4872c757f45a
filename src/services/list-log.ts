import { logRange, type LogEntry } from '../store/log-range.ts';
import { subtreeHead } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { headersOnly, unknownSubtree } from './get-subtree.ts';

export const LOG_PAGE = { default: 100, max: 1000 } as const;

/**
 * GET /v1/subtrees/:id/log?from=&limit= — the accepted transactions in log order (`seq` from
 * `from`), with their status. A co-signer fetches a proposal's transactions here in one request;
 * each entry is still checked by its reader (id = digest, sender signature, seq continuity).
 */
export async function listLog(ctx: NodeContext, subtree: string, opts: { from: number; limit: number }): Promise<{ items: LogEntry[]; next?: string }> {
  const items = await logRange(ctx.db, subtree, opts.from, opts.limit);
  if (items.length === 0) {
    const head = await subtreeHead(ctx.db, subtree);
    if (!head) throw unknownSubtree(subtree);
    if (head.headersOnly) throw headersOnly(subtree, (await ctx.subtrees.get(subtree))?.origin ?? null);
  }
  const last = items.at(-1);
  return { items, ...(items.length === opts.limit && last ? { next: String(last.seq + 1) } : {}) };
}
