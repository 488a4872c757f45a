import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { addExpiry, addSignature, listProposals } from './proposals.handlers.ts';
import { addExpiryRoute, addSignatureRoute, ExpiryVoteRequestDoc, listProposalsRoute, RoundSignatureRequestDoc } from './proposals.routes.ts';

export function proposalsRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook })
    .openapi(listProposalsRoute, listProposals(ctx))
    .openapi(addSignatureRoute, addSignature(ctx))
    .openapi(addExpiryRoute, addExpiry(ctx));
  app.openAPIRegistry.register('RoundSignatureRequest', RoundSignatureRequestDoc);
  app.openAPIRegistry.register('ExpiryVoteRequest', ExpiryVoteRequestDoc);
  return app;
}
