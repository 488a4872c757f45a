import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { getResumeHandler, postResumeHandler } from './resume.handlers.ts';
import { getResumeRoute, postResumeRoute, ResumeRequestDoc } from './resume.routes.ts';

/** GET/POST /v1/subtrees/:id/resume — lifting a multisig halt with the signers' signatures. */
export function resumeRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook })
    .openapi(getResumeRoute, getResumeHandler(ctx))
    .openapi(postResumeRoute, postResumeHandler(ctx));
  app.openAPIRegistry.register('ResumeRequest', ResumeRequestDoc);
  return app;
}
