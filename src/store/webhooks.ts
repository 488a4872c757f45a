import { and, asc, count, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { Database, Executor } from './database.ts';
import {
  webhookAttempts,
  webhookDeliveries,
  webhookSubscriptions,
  type AttemptKind,
  type DeliveryStatus,
  type WebhookStatus,
} from './schema-webhooks.ts';
import { preparedReads } from './prepared-reads.ts';
import { chunks, num, params, valueRows } from './sql.ts';
import type { Page } from './subtrees.ts';

/**
 * Webhook repositories: subscriptions, the outbox fan-out, delivery claims and results, and the
 * delivery log. The delivery worker's whole cycle (record finished sends, fan out new events,
 * claim due deliveries) is ONE write transaction: `webhookCycle`.
 */

export type WebhookSubscription = typeof webhookSubscriptions.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
export type WebhookAttempt = typeof webhookAttempts.$inferSelect;

const FANOUT_CURSOR = 'fanout';

// ---------- subscriptions ----------

export interface NewWebhookSubscription {
  id: string;
  url: string;
  events: string[];
  subtree: string | null;
  description: string | null;
  secret: string;
  now: number;
}

/** Creates a subscription that receives the events committed after it (from_seq = outbox head). */
export async function insertWebhookSubscription(db: Database, s: NewWebhookSubscription): Promise<WebhookSubscription> {
  return db.write(async (tx) => {
    const head = await tx.execute('SELECT coalesce(max(seq), 0) FROM events');
    const rows = await db
      .ormFor(tx)
      .insert(webhookSubscriptions)
      .values({
        id: s.id,
        url: s.url,
        events: s.events,
        subtree: s.subtree,
        description: s.description,
        secret: s.secret,
        status: 'active',
        fromSeq: num(head.rows[0]![0]),
        createdAt: s.now,
        updatedAt: s.now,
      })
      .returning();
    return rows[0]!;
  });
}

export async function getWebhookSubscription(db: Database, id: string): Promise<WebhookSubscription | undefined> {
  const rows = await db.orm.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
  return rows[0];
}

/** Subscriptions in id order (keyset paging). */
export async function listWebhookSubscriptions(
  db: Database,
  opts: { cursor?: string; limit: number; status?: WebhookStatus },
): Promise<Page<WebhookSubscription, string>> {
  const where: SQL[] = [];
  if (opts.cursor !== undefined) where.push(gt(webhookSubscriptions.id, opts.cursor));
  if (opts.status !== undefined) where.push(eq(webhookSubscriptions.status, opts.status));
  const items = await db.orm
    .select()
    .from(webhookSubscriptions)
    .where(and(...where))
    .orderBy(asc(webhookSubscriptions.id))
    .limit(opts.limit + 1);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.id : null };
}

/**
 * Disables (`manual`) or re-enables a subscription and notes it in the delivery log. Enabling
 * forgets the failure streak, so an endpoint is not disabled again by its old failures.
 */
export async function setWebhookStatus(
  db: Database,
  id: string,
  status: WebhookStatus,
  now: number,
): Promise<WebhookSubscription | undefined> {
  return db.write(async (tx) => {
    const orm = db.ormFor(tx);
    const set =
      status === 'disabled'
        ? { status, disabledReason: 'manual', disabledAt: now, updatedAt: now }
        : { status, disabledReason: null, disabledAt: null, failingSince: null, updatedAt: now };
    const rows = await orm.update(webhookSubscriptions).set(set).where(eq(webhookSubscriptions.id, id)).returning();
    const row = rows[0];
    if (row) {
      await orm.insert(webhookAttempts).values({
        subscriptionId: id,
        kind: status === 'disabled' ? 'disabled' : 'enabled',
        at: now,
        error: status === 'disabled' ? 'disabled by the operator' : null,
      });
    }
    return row;
  });
}

/** Deletes a subscription with its deliveries and log (cascade). False if unknown. */
export async function deleteWebhookSubscription(db: Database, id: string): Promise<boolean> {
  const rows = await db.write((tx) =>
    db.ormFor(tx).delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).returning({ id: webhookSubscriptions.id }),
  );
  return rows.length === 1;
}

/** Installs a new secret; the current one keeps signing (as a second signature) until `graceUntil`. */
export async function rotateWebhookSecret(
  db: Database,
  id: string,
  secret: string,
  graceUntil: number,
  now: number,
): Promise<WebhookSubscription | undefined> {
  return db.write(async (tx) => {
    const orm = db.ormFor(tx);
    const cur = (await orm.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)))[0];
    if (!cur) return undefined;
    const rows = await orm
      .update(webhookSubscriptions)
      .set({ secret, previousSecret: cur.secret, previousSecretExpiresAt: graceUntil, updatedAt: now })
      .where(eq(webhookSubscriptions.id, id))
      .returning();
    return rows[0];
  });
}

export interface DeliveryCounts {
  pending: number;
  delivered: number;
  dead: number;
}

export async function webhookDeliveryCounts(db: Database, id: string): Promise<DeliveryCounts> {
  const rows = await db.orm
    .select({ status: webhookDeliveries.status, n: count() })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.subscriptionId, id))
    .groupBy(webhookDeliveries.status);
  const out: DeliveryCounts = { pending: 0, delivered: 0, dead: 0 };
  for (const r of rows) out[r.status] = r.n;
  return out;
}

// ---------- deliveries and the log (read side, management) ----------

export interface DeliveryWithEvent extends WebhookDelivery {
  eventType: string;
  eventSubtree: string | null;
}

const DELIVERY_COLUMNS = `d.id, d.subscription_id, d.event_seq, d.status, d.attempts, d.next_attempt_at, d.lock_token,
  d.last_attempt_at, d.last_status, d.last_latency_ms, d.last_error, d.last_response, d.delivered_at, d.created_at,
  e.type, e.subtree`;

function deliveryRow(r: ArrayLike<unknown>): DeliveryWithEvent {
  const n = (v: unknown) => (v === null ? null : num(v));
  const s = (v: unknown) => (v === null ? null : String(v));
  return {
    id: String(r[0]),
    subscriptionId: String(r[1]),
    eventSeq: num(r[2]),
    status: String(r[3]) as DeliveryStatus,
    attempts: num(r[4]),
    nextAttemptAt: num(r[5]),
    lockToken: s(r[6]),
    lastAttemptAt: n(r[7]),
    lastStatus: n(r[8]),
    lastLatencyMs: n(r[9]),
    lastError: s(r[10]),
    lastResponse: s(r[11]),
    deliveredAt: n(r[12]),
    createdAt: num(r[13]),
    eventType: String(r[14]),
    eventSubtree: s(r[15]),
  };
}

/** A subscription's deliveries, newest event first (keyset paging on the event seq). */
export async function listWebhookDeliveries(
  db: Database,
  subscriptionId: string,
  opts: { cursor?: number; limit: number; status?: DeliveryStatus },
): Promise<Page<DeliveryWithEvent, number>> {
  const rs = await db.read.execute({
    sql: `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq
          WHERE d.subscription_id = ? AND d.event_seq < ? ${opts.status ? 'AND d.status = ?' : ''}
          ORDER BY d.event_seq DESC LIMIT ?`,
    args: [subscriptionId, opts.cursor ?? Number.MAX_SAFE_INTEGER, ...(opts.status ? [opts.status] : []), opts.limit + 1],
  });
  const items = rs.rows.map(deliveryRow);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.eventSeq : null };
}

export async function getWebhookDelivery(
  db: Database,
  subscriptionId: string,
  id: string,
): Promise<(DeliveryWithEvent & { eventData: string; eventCreatedAt: number }) | undefined> {
  const rs = await db.read.execute({
    sql: `SELECT ${DELIVERY_COLUMNS}, e.data, e.created_at FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq
          WHERE d.id = ? AND d.subscription_id = ?`,
    args: [id, subscriptionId],
  });
  const r = rs.rows[0];
  return r ? { ...deliveryRow(r), eventData: String(r[16]), eventCreatedAt: num(r[17]) } : undefined;
}

/**
 * Queues a delivery again now (redelivery on request): a dead or delivered one starts a fresh
 * schedule of attempts under the same webhook-id; a pending one that waits for its back-off is
 * made due at once. A delivery in flight right now is left alone (its result decides).
 */
export async function requeueWebhookDelivery(
  db: Database,
  subscriptionId: string,
  id: string,
  now: number,
): Promise<'queued' | 'in_flight' | 'unknown'> {
  return db.write(async (tx) => {
    const cur = await tx.execute({
      sql: 'SELECT status, lock_token, next_attempt_at FROM webhook_deliveries WHERE id = ? AND subscription_id = ?',
      args: [id, subscriptionId],
    });
    const r = cur.rows[0];
    if (!r) return 'unknown';
    if (r[0] === 'pending' && r[1] !== null && num(r[2]) > now) return 'in_flight';
    await tx.execute({
      sql: `UPDATE webhook_deliveries SET next_attempt_at = ?, lock_token = NULL,
              attempts = CASE WHEN status = 'pending' THEN attempts ELSE 0 END, status = 'pending'
            WHERE id = ?`,
      args: [now, id],
    });
    await tx.execute({
      sql: "INSERT INTO webhook_attempts (subscription_id, delivery_id, kind, at) VALUES (?, ?, 'retry', ?)",
      args: [subscriptionId, id, now],
    });
    return 'queued';
  });
}

/** The delivery log of a subscription (attempts, pings, disable/enable notices), newest first. */
export async function listWebhookAttempts(
  db: Database,
  subscriptionId: string,
  opts: { cursor?: number; limit: number; deliveryId?: string },
): Promise<Page<WebhookAttempt, number>> {
  const where: SQL[] = [eq(webhookAttempts.subscriptionId, subscriptionId)];
  if (opts.cursor !== undefined) where.push(lt(webhookAttempts.id, opts.cursor));
  if (opts.deliveryId !== undefined) where.push(eq(webhookAttempts.deliveryId, opts.deliveryId));
  const items = await db.orm
    .select()
    .from(webhookAttempts)
    .where(and(...where))
    .orderBy(desc(webhookAttempts.id))
    .limit(opts.limit + 1);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.id : null };
}

export interface NewWebhookAttempt {
  subscriptionId: string;
  deliveryId: string | null;
  kind: AttemptKind;
  at: number;
  attempt: number | null;
  status: number | null;
  latencyMs: number | null;
  error: string | null;
  response: string | null;
}

/** Logs one attempt outside the worker's cycle (test pings). */
export async function insertWebhookAttempt(db: Database, a: NewWebhookAttempt): Promise<void> {
  await db.write((tx) => insertAttempts(tx, [a]));
}

async function insertAttempts(ex: Executor, rows: readonly NewWebhookAttempt[]): Promise<void> {
  for (const part of chunks(rows, 100)) {
    await ex.execute({
      sql: `INSERT INTO webhook_attempts (subscription_id, delivery_id, kind, at, attempt, status, latency_ms, error, response)
            VALUES ${valueRows(part.length, 9)}`,
      args: part.flatMap((a) => [a.subscriptionId, a.deliveryId, a.kind, a.at, a.attempt, a.status, a.latencyMs, a.error, a.response]),
    });
  }
}

// ---------- the worker's cycle ----------

const WORK_PENDING = `SELECT
            (SELECT coalesce(max(seq), 0) FROM events) >
              max((SELECT coalesce(max(seq), 0) FROM webhook_cursor WHERE name = '${FANOUT_CURSOR}'),
                  (SELECT coalesce(min(from_seq), 9007199254740991) FROM webhook_subscriptions)),
            EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.status = 'active' AND EXISTS (
              SELECT 1 FROM webhook_deliveries d
              WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= ?))`;

/**
 * A cheap read that tells whether a cycle has anything to do: new outbox events some
 * subscription may want, or a due delivery of an active endpoint. An idle node never writes.
 */
export async function webhookWorkPending(db: Database, now: number): Promise<boolean> {
  // Asked after every committed round: the cached prepared statement where there is one.
  const fast = preparedReads(db);
  const r = fast ? fast.get(WORK_PENDING, [now])! : (await db.read.execute({ sql: WORK_PENDING, args: [now] })).rows[0]!;
  return num(r[0]) === 1 || num(r[1]) === 1;
}

/** The outcome of one send, decided by the worker; recorded only if `lockToken` still holds. */
export interface DeliveryResult {
  id: string;
  subscriptionId: string;
  lockToken: string;
  ok: boolean;
  /** The delivery's status after this attempt. */
  next: { status: 'delivered' } | { status: 'pending'; at: number } | { status: 'dead' };
  attempt: number;
  at: number;
  httpStatus: number | null;
  latencyMs: number;
  error: string | null;
  response: string | null;
}

export interface ClaimedDelivery {
  id: string;
  subscriptionId: string;
  eventSeq: number;
  attempts: number;
  lockToken: string;
  eventType: string;
  /** The event's data as stored (JSON text), sent as is. */
  eventData: string;
  eventCreatedAt: number;
}

export interface CycleOptions {
  now: number;
  results: readonly DeliveryResult[];
  /** Most outbox events fanned out per cycle. */
  fanOutLimit: number;
  /** Claim nothing when false (a flush of results only). */
  claim: boolean;
  concurrency: number;
  /** Claims expire here: a crashed sender's deliveries become due again. */
  leaseUntil: number;
  lockToken: string;
  /** An endpoint with no success for this long (and a failure now) is disabled. */
  disableAfterMs: number;
}

export interface CycleReport {
  recorded: number;
  fannedOut: number;
  /** The outbox holds more events than this cycle fanned out: run another cycle soon. */
  fanOutMore: boolean;
  claimed: ClaimedDelivery[];
  /** Subscriptions this endpoint was disabled for failing. */
  disabled: string[];
  /** Active subscriptions, as read in the cycle (for sending the claimed deliveries). */
  subscriptions: WebhookSubscription[];
}

/**
 * One cycle of the delivery worker in ONE write transaction: record the results of finished sends
 * (under their claim tokens), copy new outbox events into deliveries and advance the cursor, then
 * claim due deliveries of every active endpoint up to its free concurrency slots.
 */
export async function webhookCycle(db: Database, o: CycleOptions): Promise<CycleReport> {
  return db.write(async (tx) => {
    const { recorded, disabled } = await recordResults(tx, o.results, o.now, o.disableAfterMs);
    const { inserted: fannedOut, more: fanOutMore } = await fanOut(tx, o.now, o.fanOutLimit);
    const subscriptions = await activeSubscriptions(tx);
    const claimed = o.claim ? await claimDue(tx, subscriptions, o) : [];
    return { recorded, fannedOut, fanOutMore, claimed, disabled, subscriptions };
  });
}

/** Active subscriptions, read with plain SQL: this runs in every cycle of the worker. */
async function activeSubscriptions(tx: Executor): Promise<WebhookSubscription[]> {
  const rs = await tx.execute(
    `SELECT id, url, events, subtree, description, secret, previous_secret, previous_secret_expires_at, status,
            disabled_reason, disabled_at, failing_since, last_success_at, from_seq, created_at, updated_at
     FROM webhook_subscriptions WHERE status = 'active'`,
  );
  const n = (v: unknown) => (v === null ? null : num(v));
  const s = (v: unknown) => (v === null ? null : String(v));
  return rs.rows.map((r) => ({
    id: String(r[0]),
    url: String(r[1]),
    events: JSON.parse(String(r[2])) as string[],
    subtree: s(r[3]),
    description: s(r[4]),
    secret: String(r[5]),
    previousSecret: s(r[6]),
    previousSecretExpiresAt: n(r[7]),
    status: 'active',
    disabledReason: s(r[9]),
    disabledAt: n(r[10]),
    failingSince: n(r[11]),
    lastSuccessAt: n(r[12]),
    fromSeq: num(r[13]),
    createdAt: num(r[14]),
    updatedAt: num(r[15]),
  }));
}

/**
 * Copies outbox events after the cursor into one delivery per matching subscription (type listed,
 * subtree filter, created before the event) and moves the cursor, in the caller's transaction.
 * SQLite has one writer at a time, so seqs commit in order and the cursor can never pass an event
 * that a concurrent transaction has yet to commit.
 */
async function fanOut(tx: Executor, now: number, limit: number): Promise<{ inserted: number; more: boolean }> {
  const rs = await tx.execute(`SELECT
      (SELECT coalesce(max(seq), 0) FROM webhook_cursor WHERE name = '${FANOUT_CURSOR}'),
      (SELECT coalesce(max(seq), 0) FROM events),
      (SELECT min(from_seq) FROM webhook_subscriptions)`);
  const r = rs.rows[0]!;
  const cursor = num(r[0]);
  const head = num(r[1]);
  if (r[2] === null || head <= cursor) return { inserted: 0, more: false }; // no subscriptions, or nothing new
  // Nobody wants events at or below the oldest subscription's start: skip them in one step.
  const from = Math.max(cursor, num(r[2]));
  const to = Math.min(head, from + limit);
  let inserted = 0;
  if (to > from) {
    const ins = await tx.execute({
      sql: `INSERT OR IGNORE INTO webhook_deliveries (id, subscription_id, event_seq, status, attempts, next_attempt_at, created_at)
            SELECT 'msg_' || substr(s.id, 4) || '_' || e.seq, s.id, e.seq, 'pending', 0, ?, ?
            FROM events e JOIN webhook_subscriptions s
              ON e.seq > s.from_seq
             AND (s.subtree IS NULL OR s.subtree = e.subtree)
             AND EXISTS (SELECT 1 FROM json_each(s.events) j WHERE j.value = e.type)
            WHERE e.seq > ? AND e.seq <= ?`,
      args: [now, now, from, to],
    });
    inserted = ins.rowsAffected;
  }
  await tx.execute({
    sql: `INSERT INTO webhook_cursor (name, seq, updated_at) VALUES ('${FANOUT_CURSOR}', ?, ?)
          ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`,
    args: [to, now],
  });
  return { inserted, more: to < head };
}

async function claimDue(tx: Executor, subs: readonly WebhookSubscription[], o: CycleOptions): Promise<ClaimedDelivery[]> {
  const claimed: ClaimedDelivery[] = [];
  for (const s of subs) {
    // Free slots = concurrency minus live claims (any process). Literal 'pending' (not a
    // parameter) so SQLite can use the partial indexes.
    const rs = await tx.execute({
      sql: `UPDATE webhook_deliveries SET lock_token = ?4, next_attempt_at = ?5
            WHERE id IN (SELECT id FROM webhook_deliveries
                         WHERE subscription_id = ?1 AND status = 'pending' AND next_attempt_at <= ?2
                         ORDER BY next_attempt_at, event_seq
                         LIMIT max(0, ?3 - (SELECT count(*) FROM webhook_deliveries
                                             WHERE subscription_id = ?1 AND status = 'pending'
                                               AND lock_token IS NOT NULL AND next_attempt_at > ?2)))
            RETURNING id, event_seq, attempts`,
      args: [s.id, o.now, o.concurrency, o.lockToken, o.leaseUntil],
    });
    for (const row of rs.rows) {
      claimed.push({
        id: String(row[0]),
        subscriptionId: s.id,
        eventSeq: num(row[1]),
        attempts: num(row[2]),
        lockToken: o.lockToken,
        eventType: '',
        eventData: '',
        eventCreatedAt: 0,
      });
    }
  }
  if (claimed.length === 0) return claimed;
  const bySeq = new Map<number, { type: string; data: string; createdAt: number }>();
  const seqs = [...new Set(claimed.map((c) => c.eventSeq))];
  for (const part of chunks(seqs, 500)) {
    const ev = await tx.execute({ sql: `SELECT seq, type, data, created_at FROM events WHERE seq IN (${params(part.length)})`, args: part });
    for (const e of ev.rows) bySeq.set(num(e[0]), { type: String(e[1]), data: String(e[2]), createdAt: num(e[3]) });
  }
  for (const c of claimed) {
    const e = bySeq.get(c.eventSeq);
    if (!e) throw new Error(`delivery ${c.id} refers to missing event ${c.eventSeq}`);
    c.eventType = e.type;
    c.eventData = e.data;
    c.eventCreatedAt = e.createdAt;
  }
  return claimed;
}

async function recordResults(
  tx: Executor,
  results: readonly DeliveryResult[],
  now: number,
  disableAfterMs: number,
): Promise<{ recorded: number; disabled: string[] }> {
  if (results.length === 0) return { recorded: 0, disabled: [] };
  // One UPDATE … FROM (VALUES …) per chunk: every result guarded by its claim token.
  const attemptNo = new Map<string, number>();
  for (const part of chunks(results, 50)) {
    const rs = await tx.execute({
      sql: `WITH r(id, tok, status, next_at, at, http, latency, error, response, delivered_at) AS (VALUES ${valueRows(part.length, 10)})
            UPDATE webhook_deliveries AS d SET status = r.status, attempts = d.attempts + 1, lock_token = NULL,
              next_attempt_at = r.next_at, last_attempt_at = r.at, last_status = r.http, last_latency_ms = r.latency,
              last_error = r.error, last_response = r.response, delivered_at = r.delivered_at
            FROM r WHERE d.id = r.id AND d.lock_token = r.tok
            RETURNING id, attempts`,
      args: part.flatMap((r) => [
        r.id,
        r.lockToken,
        r.next.status,
        r.next.status === 'pending' ? r.next.at : now,
        r.at,
        r.httpStatus,
        r.latencyMs,
        r.error,
        r.response,
        r.ok ? now : null,
      ]),
    });
    for (const row of rs.rows) attemptNo.set(String(row[0]), num(row[1]));
  }
  const logged: NewWebhookAttempt[] = [];
  // Per endpoint, in completion order: the last success, and the first failure after it.
  const health = new Map<string, { lastSuccess: number | null; firstFailure: number | null }>();
  for (const r of results) {
    const attempt = attemptNo.get(r.id);
    // Not updated: our claim expired and someone else holds the delivery now; their result counts.
    if (attempt === undefined) continue;
    logged.push({
      subscriptionId: r.subscriptionId,
      deliveryId: r.id,
      kind: 'attempt',
      at: r.at,
      attempt,
      status: r.httpStatus,
      latencyMs: r.latencyMs,
      error: r.error,
      response: r.response,
    });
    const h = health.get(r.subscriptionId) ?? { lastSuccess: null, firstFailure: null };
    if (r.ok) {
      h.lastSuccess = r.at;
      h.firstFailure = null;
    } else h.firstFailure ??= r.at;
    health.set(r.subscriptionId, h);
  }
  await insertAttempts(tx, logged);
  const disabled: string[] = [];
  for (const [id, h] of health) {
    if (h.lastSuccess !== null) {
      await tx.execute({
        sql: 'UPDATE webhook_subscriptions SET last_success_at = ?, failing_since = ? WHERE id = ?',
        args: [h.lastSuccess, h.firstFailure, id],
      });
    } else {
      await tx.execute({
        sql: 'UPDATE webhook_subscriptions SET failing_since = coalesce(failing_since, ?) WHERE id = ?',
        args: [h.firstFailure, id],
      });
    }
    if (h.firstFailure === null) continue;
    const off = await tx.execute({
      sql: `UPDATE webhook_subscriptions SET status = 'disabled', disabled_reason = 'failing', disabled_at = ?, updated_at = ?
            WHERE id = ? AND status = 'active' AND failing_since <= ? RETURNING failing_since`,
      args: [now, now, id, now - disableAfterMs],
    });
    const row = off.rows[0];
    if (row) {
      disabled.push(id);
      await insertAttempts(tx, [
        {
          subscriptionId: id,
          deliveryId: null,
          kind: 'disabled',
          at: now,
          attempt: null,
          status: null,
          latencyMs: null,
          error: `endpoint disabled: every attempt failed since ${new Date(num(row[0])).toISOString()}`,
          response: null,
        },
      ]);
    }
  }
  return { recorded: logged.length, disabled };
}

/** Gives claims back at once (graceful shutdown), so another process need not wait out the lease. */
export async function releaseWebhookClaims(
  db: Database,
  claims: readonly { id: string; lockToken: string }[],
  now: number,
): Promise<void> {
  if (claims.length === 0) return;
  await db.write(async (tx) => {
    for (const c of claims) {
      await tx.execute({
        sql: "UPDATE webhook_deliveries SET lock_token = NULL, next_attempt_at = ? WHERE id = ? AND lock_token = ? AND status = 'pending'",
        args: [now, c.id, c.lockToken],
      });
    }
  });
}
