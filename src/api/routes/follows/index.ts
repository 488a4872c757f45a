import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { NodeContext } from '../../../services/context.ts';
import { adminAuth } from '../../middleware/admin-auth.ts';
import { validationHook } from '../../validation.ts';
import * as h from './follows.handlers.ts';
import * as r from './follows.routes.ts';

/** `/v1/follows…` (SPEC §12): reads are public, changes need the admin token. */
export function followsRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const admin = adminAuth(ctx.config.adminToken);
  // Before any body or parameter check: without the token nothing about the request is judged.
  const writes: MiddlewareHandler = (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : admin(c, next));
  app.use('/v1/follows', writes);
  app.use('/v1/follows/*', writes);
  return app
    .openapi(r.createFollowRoute, h.createFollow(ctx))
    .openapi(r.listFollowsRoute, h.listFollows(ctx))
    .openapi(r.getFollowRoute, h.getFollow(ctx))
    .openapi(r.deleteFollowRoute, h.deleteFollow(ctx));
}
