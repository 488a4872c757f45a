import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { addSignature, listProposals } from './proposals.handlers.ts';
import { addSignatureRoute, listProposalsRoute, RoundSignatureRequestDoc } from './proposals.routes.ts';

export function proposalsRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook })
    .openapi(listProposalsRoute, listProposals(ctx))
    .openapi(addSignatureRoute, addSignature(ctx));
  app.openAPIRegistry.register('RoundSignatureRequest', RoundSignatureRequestDoc);
  return app;
}
