import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { nodeEvents, subtreeEvents } from './events.handlers.ts';
import { nodeEventsRoute, subtreeEventsRoute } from './events.routes.ts';

/** GET /v1/subtrees/:id/events and GET /v1/events — final rounds as server-sent events (SPEC §12). */
export function eventsRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook }).openapi(subtreeEventsRoute, subtreeEvents(ctx)).openapi(nodeEventsRoute, nodeEvents(ctx));
}
