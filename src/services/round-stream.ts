import { ApiError } from '../api/problem.ts';
import { getRound, listRounds, subtreeHead } from '../store/index.ts';
import { feedHead, roundFeed, roundFeedPosition } from '../store/round-feed.ts';
import type { NodeContext } from './context.ts';
import { roundView, type RoundView } from './get-round.ts';
import { unknownSubtree } from './get-subtree.ts';

/**
 * The final rounds of SPEC §12 "Events", as async streams a route turns into text/event-stream.
 * Both poll the database (not an in-process signal), so a stream served by one instance sees the
 * rounds every instance on the same database commits. A followed subtree holds verified rounds
 * only, so its stream never runs ahead of what the follower checked.
 */

export interface StreamedRound {
  /** The SSE id: `<height>` on a subtree's stream, `<subtree>:<height>` on the node's. */
  id: string;
  round: RoundView;
}

const PAGE = 100;

/** Where a subtree's stream starts: after Last-Event-ID, else at `from`, else after the head. */
export async function subtreeStreamStart(ctx: NodeContext, subtree: string, opts: { from?: number; lastEventId?: string }): Promise<number> {
  const head = await subtreeHead(ctx.db, subtree);
  if (!head) throw unknownSubtree(subtree);
  if (opts.lastEventId !== undefined) {
    if (!/^[0-9]{1,15}$/.test(opts.lastEventId)) throw new ApiError('validation_failed', 'Last-Event-ID must be a round height on a subtree\'s stream');
    return Number(opts.lastEventId) + 1;
  }
  return opts.from ?? head.height + 1;
}

export async function* subtreeRounds(ctx: NodeContext, subtree: string, start: number, signal: AbortSignal, pollMs: number): AsyncGenerator<StreamedRound> {
  let next = start;
  while (!signal.aborted) {
    const head = await subtreeHead(ctx.db, subtree);
    if (!head) return; // the subtree went away (an unfollowed replica): end the stream
    while (next <= head.height && !signal.aborted) {
      const page = await listRounds(ctx.db, subtree, { cursor: next - 1, limit: PAGE });
      const rows = page.items.filter((r) => r.height <= head.height && r.status === 'final');
      if (rows.length === 0) break;
      for (const r of rows) {
        yield { id: String(r.height), round: roundView(r) };
        next = r.height + 1;
      }
    }
    await sleep(pollMs, signal);
  }
}

export interface NodeStreamStart {
  after: number;
  minHeight: number;
}

/** Where the node's stream starts: after the round named by Last-Event-ID, else every round of height ≥ `from`, else now. */
export async function nodeStreamStart(ctx: NodeContext, opts: { from?: number; lastEventId?: string }): Promise<NodeStreamStart> {
  if (opts.lastEventId !== undefined) {
    const m = /^([0-9a-f]{64}):([0-9]{1,15})$/.exec(opts.lastEventId);
    if (!m) throw new ApiError('validation_failed', 'Last-Event-ID must be <subtree>:<height> on the node\'s stream');
    const at = await roundFeedPosition(ctx.db, m[1]!, Number(m[2]));
    if (at === undefined) throw new ApiError('not_found', `this node has no final round ${m[2]} of subtree ${m[1]} to resume after`);
    return { after: at, minHeight: 0 };
  }
  if (opts.from !== undefined) return { after: 0, minHeight: opts.from };
  return { after: await feedHead(ctx.db), minHeight: 0 };
}

export async function* nodeRounds(ctx: NodeContext, start: NodeStreamStart, signal: AbortSignal, pollMs: number): AsyncGenerator<StreamedRound> {
  let after = start.after;
  while (!signal.aborted) {
    const entries = await roundFeed(ctx.db, { after, minHeight: start.minHeight, limit: PAGE });
    for (const e of entries) {
      if (signal.aborted) return;
      after = e.seq;
      const r = await getRound(ctx.db, e.subtree, e.height);
      if (r && r.status === 'final') yield { id: `${e.subtree}:${e.height}`, round: roundView(r) };
    }
    if (entries.length < PAGE) await sleep(pollMs, signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
