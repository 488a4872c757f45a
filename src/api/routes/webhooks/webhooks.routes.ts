import { createRoute, z } from '@hono/zod-openapi';
import { MAX_ROTATION_GRACE_MS } from '../../../webhooks/manage.ts';
import { WEBHOOK_EVENT_TYPES } from '../../../webhooks/event-types.ts';
import { Hex32, limitQuery, problems, uintString } from '../../schemas.ts';

/** Webhook management (SPEC §10, §11): every route needs the admin token. */

export const WEBHOOK_PAGE = { default: 50, max: 200 } as const;
export const DELIVERY_PAGE = { default: 50, max: 500 } as const;

const WebhookId = z
  .string()
  .regex(/^wh_[0-9a-f]{24}$/, 'must be a webhook id (wh_ + 24 hex)')
  .openapi({ param: { name: 'id', in: 'path', description: 'Webhook id `wh_…`.' }, example: 'wh_5f0c2a9e8b7d6c5f4e3a2b1c' });

const DeliveryId = z
  .string()
  .regex(/^msg_[0-9a-f]{24}_[0-9]{1,16}$/, 'must be a delivery id (msg_…)')
  .openapi({
    param: { name: 'did', in: 'path', description: 'Delivery id, which is also the `webhook-id` header it is sent with.' },
    example: 'msg_5f0c2a9e8b7d6c5f4e3a2b1c_42',
  });

const IdParams = z.strictObject({ id: WebhookId });
const DeliveryParams = z.strictObject({ id: WebhookId, did: DeliveryId });

const EventType = z.string().openapi({ description: 'An event type.', enum: [...WEBHOOK_EVENT_TYPES] } as never);

export const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(EventType),
    subtree: Hex32.nullable(),
    description: z.string().nullable(),
    status: z.enum(['active', 'disabled']),
    disabledReason: z.string().nullable().openapi({ description: '`manual` or `failing`.' }),
    disabledAt: z.number().int().nullable(),
    failingSince: z.number().int().nullable().openapi({ description: 'First failed attempt since the last success; null while healthy.' }),
    lastSuccessAt: z.number().int().nullable(),
    previousSecretExpiresAt: z.number().int().nullable().openapi({ description: 'While a rotated-out secret still signs too, until when (ms).' }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    deliveries: z
      .object({ pending: z.number().int(), delivered: z.number().int(), dead: z.number().int() })
      .optional()
      .openapi({ description: 'Delivery counts (single-webhook reads only).' }),
  })
  .openapi('Webhook');

const WebhookWithSecret = Webhook.extend({
  secret: z.string().openapi({ description: 'The signing secret `whsec_<base64>`. Shown only here: store it now.' }),
}).openapi('WebhookWithSecret');

export const Delivery = z
  .object({
    id: z.string().openapi({ description: 'Also the `webhook-id` of every send of this delivery.' }),
    webhook: z.string(),
    event: z.object({ seq: z.number().int(), type: z.string(), subtree: Hex32.nullable() }),
    status: z.enum(['pending', 'delivered', 'dead']).openapi({ description: '`dead`: the attempt limit was reached (dead letter); retry on request.' }),
    inFlight: z.boolean(),
    attempts: z.number().int(),
    nextAttemptAt: z.number().int().nullable(),
    lastAttemptAt: z.number().int().nullable(),
    lastStatus: z.number().int().nullable().openapi({ description: 'HTTP status of the last attempt; null when no response arrived.' }),
    lastLatencyMs: z.number().int().nullable(),
    lastError: z.string().nullable(),
    lastResponse: z.string().nullable().openapi({ description: 'Start of the last response body (truncated to 1 KiB).' }),
    deliveredAt: z.number().int().nullable(),
    createdAt: z.number().int(),
  })
  .openapi('WebhookDelivery');

export const Attempt = z
  .object({
    id: z.number().int(),
    kind: z.enum(['attempt', 'ping', 'disabled', 'enabled', 'retry']),
    delivery: z.string().nullable(),
    at: z.number().int(),
    attempt: z.number().int().nullable(),
    status: z.number().int().nullable(),
    latencyMs: z.number().int().nullable(),
    error: z.string().nullable(),
    response: z.string().nullable(),
  })
  .openapi('WebhookLogEntry');

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const security = [{ adminToken: [] }];
const tags = ['webhooks'];

export const createWebhookRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks',
  tags,
  security,
  summary: 'Subscribe an endpoint to events',
  description:
    'The URL must be http(s); hosts resolving to loopback, private, link-local or other special addresses are refused unless the node ' +
    'allows private targets. The endpoint receives events committed after this call, signed per Standard Webhooks with the returned secret.',
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .strictObject({
              url: z.string().max(2048),
              events: z.array(z.string().max(64)).min(1).max(32).openapi({ description: `Event types: ${WEBHOOK_EVENT_TYPES.join(', ')}.` }),
              subtree: Hex32.optional().openapi({ description: 'Only events of this subtree.' }),
              description: z.string().max(256).optional(),
            })
            .openapi('NewWebhook'),
        },
      },
    },
  },
  responses: {
    201: json(WebhookWithSecret, 'Created; the secret is shown this once'),
    ...problems(400, 401, 404, 415),
  },
});

export const listWebhooksRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks',
  tags,
  security,
  summary: 'List webhooks (id order, paged)',
  request: {
    query: z.strictObject({
      limit: limitQuery(WEBHOOK_PAGE.default, WEBHOOK_PAGE.max),
      cursor: WebhookId.optional().openapi({ param: { name: 'cursor', in: 'query', description: 'The `next` of the previous page.' } }),
      status: z.enum(['active', 'disabled']).optional(),
    }),
  },
  responses: {
    200: json(z.object({ items: z.array(Webhook), next: z.string().optional() }).openapi('WebhookPage'), 'A page of webhooks'),
    ...problems(400, 401),
  },
});

export const getWebhookRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}',
  tags,
  security,
  summary: 'One webhook with its delivery counts',
  request: { params: IdParams },
  responses: { 200: json(Webhook, 'The webhook'), ...problems(400, 401, 404) },
});

export const deleteWebhookRoute = createRoute({
  method: 'delete',
  path: '/v1/webhooks/{id}',
  tags,
  security,
  summary: 'Delete a webhook, its pending deliveries and its log',
  request: { params: IdParams },
  responses: { 204: { description: 'Deleted' }, ...problems(400, 401, 404) },
});

export const disableWebhookRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/disable',
  tags,
  security,
  summary: 'Pause deliveries to a webhook',
  description: 'Events keep being recorded for it; they are sent once it is enabled again.',
  request: { params: IdParams },
  responses: { 200: json(Webhook, 'The webhook, disabled'), ...problems(400, 401, 404, 415) },
});

export const enableWebhookRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/enable',
  tags,
  security,
  summary: 'Resume deliveries to a webhook (also after it was disabled for failing)',
  request: { params: IdParams },
  responses: { 200: json(Webhook, 'The webhook, active'), ...problems(400, 401, 404, 415) },
});

export const rotateSecretRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/rotate-secret',
  tags,
  security,
  summary: 'Replace the signing secret',
  description: 'The old secret keeps signing (a second `v1,…` signature) for `graceMs` (default 24 h), so receivers can switch without missing events.',
  request: {
    params: IdParams,
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z.strictObject({ graceMs: z.number().int().min(0).max(MAX_ROTATION_GRACE_MS).optional() }).openapi('RotateSecret'),
        },
      },
    },
  },
  responses: { 200: json(WebhookWithSecret, 'The webhook with its new secret, shown this once'), ...problems(400, 401, 404, 415) },
});

export const pingWebhookRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/test',
  tags,
  security,
  summary: 'Send a signed `webhook.test` event now and report the answer',
  request: { params: IdParams },
  responses: {
    200: json(
      z
        .object({
          ok: z.boolean(),
          webhookId: z.string(),
          status: z.number().int().nullable(),
          latencyMs: z.number().int(),
          error: z.string().nullable(),
          response: z.string().nullable(),
        })
        .openapi('WebhookPing'),
      'What the endpoint answered (not retried)',
    ),
    ...problems(400, 401, 404, 415),
  },
});

export const listDeliveriesRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}/deliveries',
  tags,
  security,
  summary: 'Deliveries of a webhook, newest event first (paged)',
  request: {
    params: IdParams,
    query: z.strictObject({
      limit: limitQuery(DELIVERY_PAGE.default, DELIVERY_PAGE.max),
      cursor: uintString().optional().openapi({ description: 'The `next` of the previous page.' } as never),
      status: z.enum(['pending', 'delivered', 'dead']).optional(),
    }),
  },
  responses: {
    200: json(z.object({ items: z.array(Delivery), next: z.string().optional() }).openapi('WebhookDeliveryPage'), 'A page of deliveries'),
    ...problems(400, 401, 404),
  },
});

export const getDeliveryRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}/deliveries/{did}',
  tags,
  security,
  summary: 'One delivery with its payload and attempts',
  request: { params: DeliveryParams },
  responses: {
    200: json(
      Delivery.extend({ payload: z.unknown().openapi({ description: 'The body sent: `{type, timestamp, data}`.' }), log: z.array(Attempt) }).openapi(
        'WebhookDeliveryDetail',
      ),
      'The delivery',
    ),
    ...problems(400, 401, 404),
  },
});

export const retryDeliveryRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/{id}/deliveries/{did}/retry',
  tags,
  security,
  summary: 'Send a delivery again (same webhook-id)',
  description: 'A dead or delivered delivery starts a fresh schedule of attempts; a pending one is made due now.',
  request: { params: DeliveryParams },
  responses: { 202: json(Delivery, 'Queued'), ...problems(400, 401, 404, 409, 415) },
});

export const listLogRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/{id}/log',
  tags,
  security,
  summary: 'The delivery log: attempts, pings, disable and enable notices, newest first',
  request: {
    params: IdParams,
    query: z.strictObject({
      limit: limitQuery(DELIVERY_PAGE.default, DELIVERY_PAGE.max),
      cursor: uintString().optional().openapi({ description: 'The `next` of the previous page.' } as never),
    }),
  },
  responses: {
    200: json(z.object({ items: z.array(Attempt), next: z.string().optional() }).openapi('WebhookLogPage'), 'A page of the log'),
    ...problems(400, 401, 404),
  },
});

export const dispatchRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/dispatch',
  tags,
  security,
  summary: 'Deliver due webhooks now (for hosts without a long-lived worker)',
  description: 'Fans out new events and sends due deliveries until none is left or about 20 s have passed.',
  responses: {
    200: json(
      z.object({ recorded: z.number().int(), fannedOut: z.number().int(), claimed: z.number().int() }).openapi('WebhookDispatch'),
      'What the drain did',
    ),
    ...problems(401, 415),
  },
});
