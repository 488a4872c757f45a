import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { getProgramHandler, uploadProgramHandler } from './programs.handlers.ts';
import { getProgramRoute, uploadProgramRoute } from './programs.routes.ts';

/** POST /v1/programs, GET /v1/programs/:id — user programs (SPEC §7.1). */
export function programsRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook }).openapi(uploadProgramRoute, uploadProgramHandler(ctx)).openapi(getProgramRoute, getProgramHandler(ctx));
}
