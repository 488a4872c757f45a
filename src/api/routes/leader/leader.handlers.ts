import type { RouteHandler } from '@hono/zod-openapi';
import { runLeaderPass } from '../../../leader/leader-pass.ts';
import type { NodeContext } from '../../../services/context.ts';
import type { tickRoute } from './leader.routes.ts';

export function tick(ctx: NodeContext): RouteHandler<typeof tickRoute> {
  return async (c) => c.json((await runLeaderPass(ctx)), 200);
}
