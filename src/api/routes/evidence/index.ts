import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { postEvidenceHandler } from './evidence.handlers.ts';
import { EvidenceDoc, MultisigEvidenceDoc, postEvidenceRoute } from './evidence.routes.ts';

/** POST /v1/evidence — equivocation evidence (pos, SPEC §5). */
export function evidenceRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook }).openapi(postEvidenceRoute, postEvidenceHandler(ctx));
  app.openAPIRegistry.register('Evidence', EvidenceDoc);
  app.openAPIRegistry.register('MultisigEvidence', MultisigEvidenceDoc);
  return app;
}
