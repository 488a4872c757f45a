import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { submitEvidence } from '../../../services/submit-evidence.ts';
import type { postEvidenceRoute } from './evidence.routes.ts';

export function postEvidenceHandler(ctx: NodeContext): RouteHandler<typeof postEvidenceRoute> {
  return async (c) => {
    const out = await submitEvidence(ctx, c.req.valid('json'));
    return c.json(out.body as never, out.status);
  };
}
