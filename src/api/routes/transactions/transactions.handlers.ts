import type { RouteHandler } from '@hono/zod-openapi';
import { clientOf } from '../../middleware/rate-limit.ts';
import type { NodeContext } from '../../../services/context.ts';
import { getTransaction as getTransactionVerb } from '../../../services/get-transaction.ts';
import { submitBatch as submitBatchVerb, submitTransaction as submitTransactionVerb } from '../../../services/submit-transaction.ts';
import type { getTransactionRoute, submitBatchRoute, submitTransactionRoute } from './transactions.routes.ts';

export function submitTransaction(ctx: NodeContext): RouteHandler<typeof submitTransactionRoute> {
  return async (c) => {
    const out = await submitTransactionVerb(ctx, c.req.valid('json'), clientOf(c, ctx.config).address);
    return c.json(out.body, out.status);
  };
}

export function submitBatch(ctx: NodeContext): RouteHandler<typeof submitBatchRoute> {
  return async (c) => {
    const out = await submitBatchVerb(ctx, c.req.valid('json'), clientOf(c, ctx.config).address);
    return c.json(out.body, out.status);
  };
}

export function getTransaction(ctx: NodeContext): RouteHandler<typeof getTransactionRoute> {
  return async (c) => c.json(await getTransactionVerb(ctx, c.req.valid('param').id), 200);
}
