import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { getRound, listRounds } from './rounds.handlers.ts';
import { getRoundRoute, listRoundsRoute } from './rounds.routes.ts';

export function roundsRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook })
    .openapi(listRoundsRoute, listRounds(ctx))
    .openapi(getRoundRoute, getRound(ctx));
}
