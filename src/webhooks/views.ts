import type { AttemptKind } from '../store/schema-webhooks.ts';
import type { DeliveryCounts, DeliveryWithEvent, WebhookAttempt, WebhookSubscription } from '../store/webhooks.ts';

/** What the management API shows of a subscription. The secret is never part of it. */
export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  subtree: string | null;
  description: string | null;
  status: 'active' | 'disabled';
  /** `manual` or `failing` while disabled. */
  disabledReason: string | null;
  disabledAt: number | null;
  /** First failed attempt since the last success (null: healthy). */
  failingSince: number | null;
  lastSuccessAt: number | null;
  /** While a rotated-out secret still signs, until when. */
  previousSecretExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  deliveries?: DeliveryCounts;
}

export function webhookView(s: WebhookSubscription, now: number, counts?: DeliveryCounts): WebhookView {
  return {
    id: s.id,
    url: s.url,
    events: s.events,
    subtree: s.subtree,
    description: s.description,
    status: s.status,
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt,
    failingSince: s.failingSince,
    lastSuccessAt: s.lastSuccessAt,
    previousSecretExpiresAt: s.previousSecret && (s.previousSecretExpiresAt ?? 0) > now ? s.previousSecretExpiresAt : null,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    ...(counts ? { deliveries: counts } : {}),
  };
}

export interface DeliveryView {
  /** Also the `webhook-id` header of every send of this delivery. */
  id: string;
  webhook: string;
  event: { seq: number; type: string; subtree: string | null };
  status: 'pending' | 'delivered' | 'dead';
  /** A sender holds it right now. */
  inFlight: boolean;
  attempts: number;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  /** HTTP status of the last attempt; null when no response arrived. */
  lastStatus: number | null;
  lastLatencyMs: number | null;
  lastError: string | null;
  lastResponse: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

export function deliveryView(d: DeliveryWithEvent, now: number): DeliveryView {
  const inFlight = d.status === 'pending' && d.lockToken !== null && d.nextAttemptAt > now;
  return {
    id: d.id,
    webhook: d.subscriptionId,
    event: { seq: d.eventSeq, type: d.eventType, subtree: d.eventSubtree },
    status: d.status,
    inFlight,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' && !inFlight ? d.nextAttemptAt : null,
    lastAttemptAt: d.lastAttemptAt,
    lastStatus: d.lastStatus,
    lastLatencyMs: d.lastLatencyMs,
    lastError: d.lastError,
    lastResponse: d.lastResponse,
    deliveredAt: d.deliveredAt,
    createdAt: d.createdAt,
  };
}

export interface AttemptView {
  id: number;
  kind: AttemptKind;
  delivery: string | null;
  at: number;
  attempt: number | null;
  status: number | null;
  latencyMs: number | null;
  error: string | null;
  response: string | null;
}

export function attemptView(a: WebhookAttempt): AttemptView {
  return {
    id: a.id,
    kind: a.kind,
    delivery: a.deliveryId,
    at: a.at,
    attempt: a.attempt,
    status: a.status,
    latencyMs: a.latencyMs,
    error: a.error,
    response: a.response,
  };
}
