import { OpenAPIHono } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { adminAuth } from '../../middleware/admin-auth.ts';
import { validationHook } from '../../validation.ts';
import * as h from './webhooks.handlers.ts';
import * as r from './webhooks.routes.ts';

/** `/v1/webhooks…`: management of subscriptions and deliveries, all behind the admin token. */
export function webhooksRoutes(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  // Before any parameter or body check: without the token nothing about the request is judged.
  app.use('/v1/webhooks', adminAuth(ctx.config.adminToken));
  app.use('/v1/webhooks/*', adminAuth(ctx.config.adminToken));
  return app
    .openapi(r.dispatchRoute, h.dispatch(ctx))
    .openapi(r.createWebhookRoute, h.createWebhook(ctx))
    .openapi(r.listWebhooksRoute, h.listWebhooks(ctx))
    .openapi(r.getWebhookRoute, h.getWebhook(ctx))
    .openapi(r.deleteWebhookRoute, h.deleteWebhook(ctx))
    .openapi(r.disableWebhookRoute, h.disableWebhook(ctx))
    .openapi(r.enableWebhookRoute, h.enableWebhook(ctx))
    .openapi(r.rotateSecretRoute, h.rotateSecret(ctx))
    .openapi(r.pingWebhookRoute, h.pingWebhook(ctx))
    .openapi(r.listDeliveriesRoute, h.listDeliveries(ctx))
    .openapi(r.getDeliveryRoute, h.getDelivery(ctx))
    .openapi(r.retryDeliveryRoute, h.retryDelivery(ctx))
    .openapi(r.listLogRoute, h.listLog(ctx));
}
