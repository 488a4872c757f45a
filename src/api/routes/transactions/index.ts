import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { validationHook } from '../../validation.ts';
import { getTransaction, submitBatch, submitTransaction } from './transactions.handlers.ts';
import { getTransactionRoute, submitBatchRoute, submitTransactionRoute } from './transactions.routes.ts';

export function transactionsRoutes(ctx: NodeContext): OpenAPIHono {
  return new OpenAPIHono({ defaultHook: validationHook })
    .openapi(submitTransactionRoute, submitTransaction(ctx))
    .openapi(submitBatchRoute, submitBatch(ctx))
    .openapi(getTransactionRoute, getTransaction(ctx));
}
