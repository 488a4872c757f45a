import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { createSubtreeVerb } from '../../../services/create-subtree.ts';
import { getSubtreeVerb } from '../../../services/get-subtree.ts';
import { listSubtreesVerb } from '../../../services/list-subtrees.ts';
import { hasAdminToken } from '../../middleware/admin-auth.ts';
import { SUBTREE_PAGE } from '../../limits.ts';
import type { createSubtreeRoute, getSubtreeRoute, listSubtreesRoute } from './subtrees.routes.ts';

export function createSubtree(ctx: NodeContext): RouteHandler<typeof createSubtreeRoute> {
  return async (c) => {
    const admin = hasAdminToken(c.req.header('authorization'), ctx.config.adminToken);
    const out = await createSubtreeVerb(ctx, c.req.valid('json'), { admin });
    return c.json(out.body, out.status);
  };
}

export function listSubtrees(ctx: NodeContext): RouteHandler<typeof listSubtreesRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listSubtreesVerb(ctx, {
      limit: q.limit ?? SUBTREE_PAGE.default,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      ...(q.parent !== undefined ? { parent: q.parent } : {}),
    });
    return c.json(page, 200);
  };
}

export function getSubtree(ctx: NodeContext): RouteHandler<typeof getSubtreeRoute> {
  return async (c) => c.json((await getSubtreeVerb(ctx, c.req.valid('param').id)), 200);
}
