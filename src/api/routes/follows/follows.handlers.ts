import type { RouteHandler } from '@hono/zod-openapi';
import { dropFollowVerb } from '../../../follow/drop-follow.ts';
import { getFollowVerb, listFollowsVerb } from '../../../follow/follow-view.ts';
import { followSubtreeVerb } from '../../../follow/start-follow.ts';
import type { NodeContext } from '../../../services/context.ts';
import type { createFollowRoute, deleteFollowRoute, getFollowRoute, listFollowsRoute } from './follows.routes.ts';
import { FOLLOW_PAGE } from './follows.routes.ts';

export function createFollow(ctx: NodeContext): RouteHandler<typeof createFollowRoute> {
  return async (c) => {
    const out = await followSubtreeVerb(ctx, c.req.valid('json'));
    return c.json(out.body as never, out.status);
  };
}

export function listFollows(ctx: NodeContext): RouteHandler<typeof listFollowsRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    return c.json((await listFollowsVerb(ctx, { limit: q.limit ?? FOLLOW_PAGE.default, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) })) as never, 200);
  };
}

export function getFollow(ctx: NodeContext): RouteHandler<typeof getFollowRoute> {
  return async (c) => c.json((await getFollowVerb(ctx, c.req.valid('param').subtree)) as never, 200);
}

export function deleteFollow(ctx: NodeContext): RouteHandler<typeof deleteFollowRoute> {
  return async (c) => {
    await dropFollowVerb(ctx, c.req.valid('param').subtree);
    return c.body(null, 204);
  };
}
