import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { createSubtree, getSubtree, listSubtrees } from './subtrees.handlers.ts';
import { createSubtreeRoute, getSubtreeRoute, listSubtreesRoute } from './subtrees.routes.ts';

export function subtreesRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook })
    .openapi(createSubtreeRoute, createSubtree(ctx))
    .openapi(listSubtreesRoute, listSubtrees(ctx))
    .openapi(getSubtreeRoute, getSubtree(ctx));
}
