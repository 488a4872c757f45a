import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import {
  createWebhookVerb,
  deleteWebhookVerb,
  getDeliveryVerb,
  getWebhookVerb,
  listAttemptsVerb,
  listDeliveriesVerb,
  listWebhooksVerb,
  pingWebhookVerb,
  retryDeliveryVerb,
  rotateWebhookSecretVerb,
  setWebhookStatusVerb,
} from '../../../webhooks/manage.ts';
import { runWebhookPass } from '../../../webhooks/worker.ts';
import {
  DELIVERY_PAGE,
  WEBHOOK_PAGE,
  type createWebhookRoute,
  type deleteWebhookRoute,
  type disableWebhookRoute,
  type dispatchRoute,
  type enableWebhookRoute,
  type getDeliveryRoute,
  type getWebhookRoute,
  type listDeliveriesRoute,
  type listLogRoute,
  type listWebhooksRoute,
  type pingWebhookRoute,
  type retryDeliveryRoute,
  type rotateSecretRoute,
} from './webhooks.routes.ts';

export function createWebhook(ctx: NodeContext): RouteHandler<typeof createWebhookRoute> {
  return async (c) => {
    const b = c.req.valid('json');
    const out = await createWebhookVerb(ctx, {
      url: b.url,
      events: b.events,
      ...(b.subtree !== undefined ? { subtree: b.subtree } : {}),
      ...(b.description !== undefined ? { description: b.description } : {}),
    });
    return c.json(out, 201);
  };
}

export function listWebhooks(ctx: NodeContext): RouteHandler<typeof listWebhooksRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listWebhooksVerb(ctx, {
      limit: q.limit ?? WEBHOOK_PAGE.default,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
    });
    return c.json(page, 200);
  };
}

export function getWebhook(ctx: NodeContext): RouteHandler<typeof getWebhookRoute> {
  return async (c) => c.json(await getWebhookVerb(ctx, c.req.valid('param').id), 200);
}

export function deleteWebhook(ctx: NodeContext): RouteHandler<typeof deleteWebhookRoute> {
  return async (c) => {
    await deleteWebhookVerb(ctx, c.req.valid('param').id);
    return c.body(null, 204);
  };
}

export function disableWebhook(ctx: NodeContext): RouteHandler<typeof disableWebhookRoute> {
  return async (c) => c.json(await setWebhookStatusVerb(ctx, c.req.valid('param').id, 'disabled'), 200);
}

export function enableWebhook(ctx: NodeContext): RouteHandler<typeof enableWebhookRoute> {
  return async (c) => c.json(await setWebhookStatusVerb(ctx, c.req.valid('param').id, 'active'), 200);
}

export function rotateSecret(ctx: NodeContext): RouteHandler<typeof rotateSecretRoute> {
  return async (c) => {
    const grace = (c.req.valid('json') as { graceMs?: number }).graceMs;
    return c.json(await rotateWebhookSecretVerb(ctx, c.req.valid('param').id, grace), 200);
  };
}

export function pingWebhook(ctx: NodeContext): RouteHandler<typeof pingWebhookRoute> {
  return async (c) => c.json(await pingWebhookVerb(ctx, c.req.valid('param').id), 200);
}

export function listDeliveries(ctx: NodeContext): RouteHandler<typeof listDeliveriesRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listDeliveriesVerb(ctx, c.req.valid('param').id, {
      limit: q.limit ?? DELIVERY_PAGE.default,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
    });
    return c.json(page, 200);
  };
}

export function getDelivery(ctx: NodeContext): RouteHandler<typeof getDeliveryRoute> {
  return async (c) => {
    const { id, did } = c.req.valid('param');
    return c.json(await getDeliveryVerb(ctx, id, did), 200);
  };
}

export function retryDelivery(ctx: NodeContext): RouteHandler<typeof retryDeliveryRoute> {
  return async (c) => {
    const { id, did } = c.req.valid('param');
    return c.json(await retryDeliveryVerb(ctx, id, did), 202);
  };
}

export function listLog(ctx: NodeContext): RouteHandler<typeof listLogRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listAttemptsVerb(ctx, c.req.valid('param').id, {
      limit: q.limit ?? DELIVERY_PAGE.default,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    return c.json(page, 200);
  };
}

export function dispatch(ctx: NodeContext): RouteHandler<typeof dispatchRoute> {
  return async (c) => c.json(await runWebhookPass(ctx), 200);
}
