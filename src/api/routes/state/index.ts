import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { StateReader } from '../../../services/get-state.ts';
import { validationHook } from '../../validation.ts';
import { getState } from './state.handlers.ts';
import { getStateRoute } from './state.routes.ts';

export function stateRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  // Served on a regexp parameter so `key` may contain `/` (e.g. `balance/ed25519:…`) whether or not
  // the client percent-encodes it; the document keeps the plain `{key}` form.
  app.openapi({ ...getStateRoute, path: '/v1/subtrees/{id}/state/{key{.+}}', hide: true }, getState(new StateReader(ctx)));
  app.openAPIRegistry.registerPath(getStateRoute);
  return app;
}
