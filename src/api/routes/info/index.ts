import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { getInfo } from './info.handlers.ts';
import { getInfoRoute } from './info.routes.ts';

export function infoRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono().openapi(getInfoRoute, getInfo(ctx));
}
