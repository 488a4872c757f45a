import type { Logger } from '../services/context.ts';
import type { Database } from '../store/database.ts';
import {
  releaseWebhookClaims,
  webhookCycle,
  webhookWorkPending,
  type ClaimedDelivery,
  type DeliveryResult,
  type WebhookSubscription,
} from '../store/webhooks.ts';
import { retryDelayMs } from './backoff.ts';
import { sendWebhook, type SendOutcome } from './send.ts';
import type { WebhookSettings } from './settings.ts';
import { eventBody, signingSecrets } from './signing.ts';
import type { TargetGuard } from './target-guard.ts';

/** A claim outlives the send's timeout by this much: time to record the result. */
export const LEASE_MARGIN_MS = 2000;

export interface DispatcherDeps {
  db: Database;
  settings: WebhookSettings;
  guard: TargetGuard;
  log: Logger;
  now: () => number;
  userAgent: string;
  random?: () => number;
}

export interface CycleStats {
  /** Nothing to do: the cycle only read. */
  idle: boolean;
  recorded: number;
  fannedOut: number;
  claimed: number;
  /** More work is known to be waiting (outbox backlog): run again soon. */
  more: boolean;
}

interface InFlight {
  claim: ClaimedDelivery;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The delivery engine of one process. A cycle (`cycle()`) is one write transaction that records
 * finished sends, fans new outbox events out into deliveries, and claims due deliveries up to each
 * endpoint's free concurrency slots; the claimed sends then run in the background and their
 * results wait in memory for the next cycle (`onSettled` asks for it). Cycles never overlap (the
 * caller's scheduler sees to that); other processes are kept apart by the claims in the database.
 *
 * At-least-once: a result is recorded only after the receiver answered, so a crash in between
 * re-sends the delivery, with the same `webhook-id`, once its claim expires.
 */
export class WebhookDispatcher {
  /** Called whenever a send finishes (its result should be recorded soon). */
  onSettled: (() => void) | null = null;
  private readonly inflight = new Map<string, InFlight>();
  private finished: DeliveryResult[] = [];
  private aborted: { id: string; lockToken: string }[] = [];
  private closed = false;

  constructor(private readonly deps: DispatcherDeps) {}

  get inFlight(): number {
    return this.inflight.size;
  }

  async cycle(): Promise<CycleStats> {
    const { db, settings: s } = this.deps;
    const now = this.deps.now();
    const results = this.finished;
    this.finished = [];
    if (results.length === 0 && (this.closed || !(await webhookWorkPending(db, now)))) {
      return { idle: true, recorded: 0, fannedOut: 0, claimed: 0, more: false };
    }
    let report;
    try {
      report = await webhookCycle(db, {
        now,
        results,
        fanOutLimit: s.fanOutBatch,
        claim: !this.closed,
        concurrency: s.concurrency,
        leaseUntil: now + s.timeoutMs + LEASE_MARGIN_MS,
        lockToken: crypto.randomUUID(),
        disableAfterMs: s.disableAfterMs,
      });
    } catch (err) {
      this.finished = results.concat(this.finished); // rolled back: record them next time
      throw err;
    }
    for (const id of report.disabled) {
      this.deps.log.info('webhook endpoint disabled: it failed for too long', { subscription: id, afterMs: s.disableAfterMs });
    }
    const subs = new Map(report.subscriptions.map((x) => [x.id, x]));
    for (const c of report.claimed) this.start(c, subs.get(c.subscriptionId)!);
    return {
      idle: false,
      recorded: report.recorded,
      fannedOut: report.fannedOut,
      claimed: report.claimed.length,
      more: report.fanOutMore,
    };
  }

  /** Waits until every send started so far has finished. */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight.values()].map((f) => f.done));
  }

  /**
   * Runs cycles until nothing is due or `budgetMs` is spent, waiting for each cycle's sends, then
   * records the last results: the one-shot mode for hosts without a long-lived process (Workers
   * cron / waitUntil, `POST /v1/webhooks/dispatch`).
   */
  async drain(budgetMs: number): Promise<{ recorded: number; fannedOut: number; claimed: number }> {
    const until = performance.now() + budgetMs;
    const total = { recorded: 0, fannedOut: 0, claimed: 0 };
    for (;;) {
      const r = await this.cycle();
      total.recorded += r.recorded;
      total.fannedOut += r.fannedOut;
      total.claimed += r.claimed;
      await this.settle();
      if (r.idle || (r.claimed === 0 && !r.more && this.finished.length === 0)) break;
      if (performance.now() >= until) {
        const last = await this.flush();
        total.recorded += last;
        break;
      }
    }
    return total;
  }

  /**
   * Shutdown: aborts sends in flight (they are not attempts: the receiver is not at fault), records
   * the results that did arrive, and gives the aborted claims back so no one waits for the lease.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.inflight.values()) f.controller.abort();
    await this.settle();
    await this.flush();
    const give = this.aborted;
    this.aborted = [];
    await releaseWebhookClaims(this.deps.db, give, this.deps.now());
  }

  /** Records finished results without claiming anything new. */
  private async flush(): Promise<number> {
    if (this.finished.length === 0) return 0;
    const results = this.finished;
    this.finished = [];
    const now = this.deps.now();
    const s = this.deps.settings;
    const r = await webhookCycle(this.deps.db, {
      now,
      results,
      fanOutLimit: s.fanOutBatch,
      claim: false,
      concurrency: s.concurrency,
      leaseUntil: now,
      lockToken: '',
      disableAfterMs: s.disableAfterMs,
    });
    return r.recorded;
  }

  private start(claim: ClaimedDelivery, sub: WebhookSubscription): void {
    const { settings: s, now } = this.deps;
    const controller = new AbortController();
    const done = sendWebhook({
      url: sub.url,
      msgId: claim.id,
      body: eventBody(claim.eventType, claim.eventCreatedAt, claim.eventData),
      secrets: signingSecrets(sub, now()),
      timeoutMs: s.timeoutMs,
      guard: this.deps.guard,
      userAgent: this.deps.userAgent,
      signal: controller.signal,
      now,
    })
      .catch((err): SendOutcome => ({
        ok: false,
        status: null,
        latencyMs: 0,
        error: `send failed: ${err instanceof Error ? err.message : String(err)}`,
        response: null,
        retryAfterMs: null,
        aborted: false,
      }))
      .then((o) => this.finish(claim, o))
      .finally(() => {
        this.inflight.delete(claim.id);
        this.onSettled?.();
      });
    this.inflight.set(claim.id, { claim, controller, done });
  }

  private finish(claim: ClaimedDelivery, o: SendOutcome): void {
    if (o.aborted) {
      this.aborted.push({ id: claim.id, lockToken: claim.lockToken });
      return;
    }
    const s = this.deps.settings;
    const at = this.deps.now();
    const attempt = claim.attempts + 1;
    let next: DeliveryResult['next'];
    if (o.ok) next = { status: 'delivered' };
    else if (attempt >= s.maxAttempts) next = { status: 'dead' };
    else {
      const delay = retryDelayMs(attempt, { baseMs: s.backoffMs, maxMs: s.backoffMaxMs }, this.deps.random, o.retryAfterMs);
      next = { status: 'pending', at: at + delay };
    }
    if (!o.ok) {
      this.deps.log.debug('webhook attempt failed', {
        delivery: claim.id,
        subscription: claim.subscriptionId,
        attempt,
        status: o.status,
        error: o.error,
        next: next.status,
      });
    }
    this.finished.push({
      id: claim.id,
      subscriptionId: claim.subscriptionId,
      lockToken: claim.lockToken,
      ok: o.ok,
      next,
      attempt,
      at: at - o.latencyMs,
      httpStatus: o.status,
      latencyMs: o.latencyMs,
      error: o.error,
      response: o.response,
    });
  }
}
