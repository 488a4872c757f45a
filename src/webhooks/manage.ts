import { ApiError } from '../api/problem.ts';
import { toHex } from '../core/hex.ts';
import type { NodeContext } from '../services/context.ts';
import { getSubtree } from '../store/subtrees.ts';
import type { DeliveryStatus, WebhookStatus } from '../store/schema-webhooks.ts';
import {
  deleteWebhookSubscription,
  getWebhookDelivery,
  getWebhookSubscription,
  insertWebhookAttempt,
  insertWebhookSubscription,
  listWebhookAttempts,
  listWebhookDeliveries,
  listWebhookSubscriptions,
  requeueWebhookDelivery,
  rotateWebhookSecret,
  setWebhookStatus,
  webhookDeliveryCounts,
  type WebhookSubscription,
} from '../store/webhooks.ts';
import { isWebhookEventType, PING_EVENT_TYPE, WEBHOOK_EVENT_TYPES } from './event-types.ts';
import { sendWebhook } from './send.ts';
import { webhookSettings } from './settings.ts';
import { eventBody, newWebhookSecret, signingSecrets } from './signing.ts';
import { createTargetGuard, parseWebhookUrl, WebhookUrlError } from './target-guard.ts';
import { attemptView, deliveryView, webhookView, type AttemptView, type DeliveryView, type WebhookView } from './views.ts';
import { WEBHOOK_USER_AGENT } from './worker.ts';

/**
 * Management verbs behind `/v1/webhooks` (admin token). Routes validate shapes; these check the
 * meaning (URL and target, event names, subtree) and map every refusal to a stable problem code.
 */

export const DEFAULT_ROTATION_GRACE_MS = 24 * 3600_000;
export const MAX_ROTATION_GRACE_MS = 7 * 24 * 3600_000;

export interface CreateWebhookInput {
  url: string;
  events: string[];
  subtree?: string;
  description?: string;
}

export async function createWebhookVerb(ctx: NodeContext, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
  const url = await checkedUrl(ctx, input.url);
  const unknown = input.events.filter((e) => !isWebhookEventType(e));
  if (unknown.length > 0) {
    throw new ApiError('unknown_event_type', `unknown event type(s): ${unknown.join(', ')}`, { unknown, known: [...WEBHOOK_EVENT_TYPES] });
  }
  if (input.subtree !== undefined && !(await getSubtree(ctx.db, input.subtree))) {
    throw new ApiError('unknown_subtree', `no subtree ${input.subtree} on this node`);
  }
  const secret = newWebhookSecret();
  const row = await insertWebhookSubscription(ctx.db, {
    id: `wh_${toHex(crypto.getRandomValues(new Uint8Array(12)))}`,
    url: url.href,
    events: [...new Set(input.events)],
    subtree: input.subtree ?? null,
    description: input.description ?? null,
    secret,
    now: ctx.now(),
  });
  ctx.log.info('webhook created', { webhook: row.id, origin: url.origin, events: row.events });
  return { ...webhookView(row, ctx.now()), secret };
}

async function checkedUrl(ctx: NodeContext, raw: string): Promise<URL> {
  try {
    const url = parseWebhookUrl(raw);
    await createTargetGuard({ allowPrivate: ctx.config.webhookAllowPrivate }).check(url);
    return url;
  } catch (err) {
    if (err instanceof WebhookUrlError) throw new ApiError(err.code, err.message);
    throw err;
  }
}

async function subscription(ctx: NodeContext, id: string): Promise<WebhookSubscription> {
  const row = await getWebhookSubscription(ctx.db, id);
  if (!row) throw new ApiError('unknown_webhook', `no webhook ${id} on this node`);
  return row;
}

export async function listWebhooksVerb(ctx: NodeContext, q: { limit: number; cursor?: string; status?: WebhookStatus }) {
  const page = await listWebhookSubscriptions(ctx.db, q);
  const now = ctx.now();
  return { items: page.items.map((s) => webhookView(s, now)), ...(page.next !== null ? { next: page.next } : {}) };
}

export async function getWebhookVerb(ctx: NodeContext, id: string): Promise<WebhookView> {
  const row = await subscription(ctx, id);
  return webhookView(row, ctx.now(), await webhookDeliveryCounts(ctx.db, id));
}

export async function setWebhookStatusVerb(ctx: NodeContext, id: string, status: WebhookStatus): Promise<WebhookView> {
  const row = await setWebhookStatus(ctx.db, id, status, ctx.now());
  if (!row) throw new ApiError('unknown_webhook', `no webhook ${id} on this node`);
  ctx.log.info(`webhook ${status === 'active' ? 'enabled' : 'disabled'}`, { webhook: id });
  if (status === 'active') ctx.kickWebhooks?.();
  return webhookView(row, ctx.now());
}

export async function deleteWebhookVerb(ctx: NodeContext, id: string): Promise<void> {
  if (!(await deleteWebhookSubscription(ctx.db, id))) throw new ApiError('unknown_webhook', `no webhook ${id} on this node`);
  ctx.log.info('webhook deleted', { webhook: id });
}

export async function rotateWebhookSecretVerb(ctx: NodeContext, id: string, graceMs = DEFAULT_ROTATION_GRACE_MS) {
  const now = ctx.now();
  const secret = newWebhookSecret();
  const row = await rotateWebhookSecret(ctx.db, id, secret, now + graceMs, now);
  if (!row) throw new ApiError('unknown_webhook', `no webhook ${id} on this node`);
  ctx.log.info('webhook secret rotated', { webhook: id, graceMs });
  return { ...webhookView(row, now), secret };
}

export async function listDeliveriesVerb(
  ctx: NodeContext,
  id: string,
  q: { limit: number; cursor?: number; status?: DeliveryStatus },
): Promise<{ items: DeliveryView[]; next?: string }> {
  await subscription(ctx, id);
  const page = await listWebhookDeliveries(ctx.db, id, q);
  const now = ctx.now();
  return { items: page.items.map((d) => deliveryView(d, now)), ...(page.next !== null ? { next: String(page.next) } : {}) };
}

export async function getDeliveryVerb(ctx: NodeContext, id: string, did: string) {
  await subscription(ctx, id);
  const d = await getWebhookDelivery(ctx.db, id, did);
  if (!d) throw new ApiError('unknown_delivery', `webhook ${id} has no delivery ${did}`);
  const log = await listWebhookAttempts(ctx.db, id, { deliveryId: did, limit: 100 });
  return {
    ...deliveryView(d, ctx.now()),
    payload: JSON.parse(eventBody(d.eventType, d.eventCreatedAt, d.eventData)) as unknown,
    log: log.items.map(attemptView),
  };
}

/** Redelivery on request (same webhook-id); refused while the endpoint is disabled. */
export async function retryDeliveryVerb(ctx: NodeContext, id: string, did: string): Promise<DeliveryView> {
  const sub = await subscription(ctx, id);
  if (sub.status !== 'active') throw new ApiError('webhook_disabled', `webhook ${id} is disabled; enable it first`);
  const out = await requeueWebhookDelivery(ctx.db, id, did, ctx.now());
  if (out === 'unknown') throw new ApiError('unknown_delivery', `webhook ${id} has no delivery ${did}`);
  if (out === 'in_flight') throw new ApiError('conflict', `delivery ${did} is being sent right now`);
  ctx.kickWebhooks?.();
  const d = await getWebhookDelivery(ctx.db, id, did);
  return deliveryView(d!, ctx.now());
}

export async function listAttemptsVerb(ctx: NodeContext, id: string, q: { limit: number; cursor?: number }) {
  await subscription(ctx, id);
  const page = await listWebhookAttempts(ctx.db, id, q);
  return { items: page.items.map(attemptView), ...(page.next !== null ? { next: String(page.next) } : {}) };
}

export interface PingResult {
  ok: boolean;
  webhookId: string;
  status: number | null;
  latencyMs: number;
  error: string | null;
  response: string | null;
}

/**
 * Sends one signed `webhook.test` event now and reports what the endpoint answered. Not retried,
 * not counted toward the endpoint's health; logged in its delivery log as a `ping`.
 */
export async function pingWebhookVerb(ctx: NodeContext, id: string): Promise<PingResult> {
  const sub = await subscription(ctx, id);
  const settings = webhookSettings(ctx.config);
  const now = ctx.now();
  const msgId = `msg_test_${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
  const o = await sendWebhook({
    url: sub.url,
    msgId,
    body: eventBody(PING_EVENT_TYPE, now, JSON.stringify({ webhook: sub.id })),
    secrets: signingSecrets(sub, now),
    timeoutMs: settings.timeoutMs,
    guard: createTargetGuard({ allowPrivate: settings.allowPrivate }),
    userAgent: WEBHOOK_USER_AGENT,
    now: ctx.now,
  });
  await insertWebhookAttempt(ctx.db, {
    subscriptionId: id,
    deliveryId: null,
    kind: 'ping',
    at: now,
    attempt: null,
    status: o.status,
    latencyMs: o.latencyMs,
    error: o.error,
    response: o.response,
  });
  return { ok: o.ok, webhookId: msgId, status: o.status, latencyMs: o.latencyMs, error: o.error, response: o.response };
}
