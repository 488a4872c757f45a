import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { adminAuth } from '../../middleware/admin-auth.ts';
import { validationHook } from '../../validation.ts';
import { tick } from './leader.handlers.ts';
import { tickRoute } from './leader.routes.ts';

export function leaderRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook }).openapi({ ...tickRoute, middleware: adminAuth(ctx.config.adminToken) }, tick(ctx));
}
