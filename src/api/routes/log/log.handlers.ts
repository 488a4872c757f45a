import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { LOG_PAGE, listLog } from '../../../services/list-log.ts';
import type { listLogRoute } from './log.routes.ts';

export function listLogHandler(ctx: NodeContext): RouteHandler<typeof listLogRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listLog(ctx, c.req.valid('param').id, { from: q.from ?? 0, limit: q.limit ?? LOG_PAGE.default });
    return c.json(page as never, 200);
  };
}
