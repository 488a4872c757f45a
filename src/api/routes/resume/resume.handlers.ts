import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { getResume, resumeSubtree } from '../../../services/resume-subtree.ts';
import type { getResumeRoute, postResumeRoute } from './resume.routes.ts';

export function getResumeHandler(ctx: NodeContext): RouteHandler<typeof getResumeRoute> {
  return async (c) => c.json((await getResume(ctx, c.req.valid('param').id)) as never, 200);
}

export function postResumeHandler(ctx: NodeContext): RouteHandler<typeof postResumeRoute> {
  return async (c) => {
    const out = await resumeSubtree(ctx, c.req.valid('param').id, c.req.valid('json'));
    return c.json(out.body as never, out.status);
  };
}
