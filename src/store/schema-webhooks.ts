import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * Webhook tables (SPEC §10). The `events` outbox is written with the change it reports; from it a
 * fan-out copies one `webhook_deliveries` row per (event, subscription) and advances
 * `webhook_cursor` in the SAME write transaction, so a crash can neither skip nor repeat an event.
 * Deliveries are then claimed with a lease (`lock_token` + `next_attempt_at` = lease end), so no
 * two processes send one delivery at the same time, and a crashed sender's claim simply expires.
 */

export const WEBHOOK_STATUSES = ['active', 'disabled'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const ATTEMPT_KINDS = ['attempt', 'ping', 'disabled', 'enabled', 'retry'] as const;
export type AttemptKind = (typeof ATTEMPT_KINDS)[number];

export const webhookSubscriptions = sqliteTable(
  'webhook_subscriptions',
  {
    /** `wh_` + 24 hex. */
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    /** Event types this endpoint receives (JSON array of strings). */
    events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
    /** Only events of this subtree; null = every subtree. */
    subtree: text('subtree'),
    description: text('description'),
    /**
     * The signing secret `whsec_<base64>`, stored as is: the node must hold the raw key to compute
     * HMACs (a hash of it would be useless). Never logged, returned only on create and rotate.
     */
    secret: text('secret').notNull(),
    /** After a rotation the old secret also signs until `previous_secret_expires_at`. */
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: integer('previous_secret_expires_at'),
    status: text('status', { enum: WEBHOOK_STATUSES }).notNull().default('active'),
    /** `manual` (disable endpoint) or `failing` (no success for DSTP_WEBHOOK_DISABLE_AFTER_MS). */
    disabledReason: text('disabled_reason'),
    disabledAt: integer('disabled_at'),
    /** First failed attempt since the last success; null while the endpoint is healthy. */
    failingSince: integer('failing_since'),
    lastSuccessAt: integer('last_success_at'),
    /** Highest events.seq at creation: only later events are delivered to this subscription. */
    fromSeq: integer('from_seq').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [check('webhook_subscriptions_status', sql`${t.status} IN ('active', 'disabled')`)],
);

export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    /** `msg_<subscription hex>_<event seq>`: the stable `webhook-id` of every send of this row. */
    id: text('id').primaryKey(),
    subscriptionId: text('subscription_id')
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    /** events.seq (no foreign key: the outbox is append-only, and the check costs on every insert). */
    eventSeq: integer('event_seq').notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull().default('pending'),
    /** Attempts in the current schedule (a manual retry starts a new one); the log keeps them all. */
    attempts: integer('attempts').notNull().default(0),
    /** When the next attempt is due; while claimed, the end of the claim's lease. */
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** Set while a sender holds the delivery; its result is recorded only under the same token. */
    lockToken: text('lock_token'),
    lastAttemptAt: integer('last_attempt_at'),
    /** HTTP status of the last attempt (null when no response: refused, timeout, blocked target). */
    lastStatus: integer('last_status'),
    lastLatencyMs: integer('last_latency_ms'),
    lastError: text('last_error'),
    /** Start of the last response body, truncated. */
    lastResponse: text('last_response'),
    deliveredAt: integer('delivered_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_sub_seq').on(t.subscriptionId, t.eventSeq),
    // The claim's scan: due work of one endpoint, oldest first. Partial: only the queue.
    index('webhook_deliveries_due').on(t.subscriptionId, t.nextAttemptAt, t.eventSeq).where(sql`status = 'pending'`),
    // In-flight count per endpoint (the concurrency limit across processes).
    index('webhook_deliveries_inflight').on(t.subscriptionId, t.nextAttemptAt).where(sql`status = 'pending' AND lock_token IS NOT NULL`),
    check('webhook_deliveries_status', sql`${t.status} IN ('pending', 'delivered', 'dead')`),
  ],
);

/** The delivery log: every attempt, test ping and endpoint state change, newest last. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    subscriptionId: text('subscription_id')
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    /** The delivery this attempt sent (null for pings and endpoint notices). */
    deliveryId: text('delivery_id'),
    kind: text('kind', { enum: ATTEMPT_KINDS }).notNull(),
    at: integer('at').notNull(),
    /** 1-based attempt number within the delivery's schedule. */
    attempt: integer('attempt'),
    status: integer('status'),
    latencyMs: integer('latency_ms'),
    error: text('error'),
    response: text('response'),
  },
  (t) => [
    index('webhook_attempts_sub').on(t.subscriptionId, t.id),
    index('webhook_attempts_delivery').on(t.deliveryId, t.id),
  ],
);

/** How far the fan-out has read the outbox: the last events.seq copied into deliveries. */
export const webhookCursor = sqliteTable('webhook_cursor', {
  name: text('name').primaryKey(),
  seq: integer('seq').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
