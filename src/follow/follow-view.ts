import { ApiError } from '../api/problem.ts';
import { getFollow, getSubtree, listFollows, type Follow } from '../store/index.ts';
import type { NodeContext } from '../services/context.ts';
import type { FollowView } from '../client/types.ts';

/** SPEC §12 follow view (`GET /v1/follows`, `GET /v1/follows/:subtree`): the SDK's definition. */
export type { FollowView };

export async function followView(ctx: NodeContext, f: Follow): Promise<FollowView> {
  const row = await getSubtree(ctx.db, f.subtree);
  return {
    subtree: f.subtree,
    origin: f.origin,
    verify: f.verify,
    status: f.status,
    height: row?.height ?? 0,
    originHeight: f.originHeight,
    verifiedFrom: f.verifiedFrom,
    originKey: f.originKey,
    ...(f.halt ? { halt: f.halt as FollowView['halt'] & object } : {}),
  };
}

export async function getFollowVerb(ctx: NodeContext, subtree: string): Promise<FollowView> {
  const f = await getFollow(ctx.db, subtree);
  if (!f) throw new ApiError('unknown_follow', `this node does not follow subtree ${subtree}`);
  return followView(ctx, f);
}

export async function listFollowsVerb(ctx: NodeContext, opts: { cursor?: string; limit: number }): Promise<{ items: FollowView[]; next?: string }> {
  const page = await listFollows(ctx.db, opts);
  const items = await Promise.all(page.items.map((f) => followView(ctx, f)));
  return { items, ...(page.next !== null ? { next: page.next } : {}) };
}
