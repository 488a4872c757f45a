import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { listLogHandler } from './log.handlers.ts';
import { listLogRoute } from './log.routes.ts';

/** GET /v1/subtrees/:id/log — the transaction log in seq order, for replicas and auditors. */
export function logRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook }).openapi(listLogRoute, listLogHandler(ctx));
}
