import type { Config } from '../config.ts';

/** The delivery worker's knobs (DSTP_WEBHOOK_* in config.ts). */
export interface WebhookSettings {
  /** Allow loopback/private/link-local targets (tests, private networks). */
  allowPrivate: boolean;
  /** Attempts per delivery before it is dead-lettered. */
  maxAttempts: number;
  /** Deadline of one attempt, connect to last body byte. */
  timeoutMs: number;
  /** Most sends in flight per endpoint, across every process on the database. */
  concurrency: number;
  /** An endpoint whose every attempt failed for this long is disabled. */
  disableAfterMs: number;
  /** Base and cap of the exponential back-off between attempts. */
  backoffMs: number;
  backoffMaxMs: number;
  /** Most outbox events fanned out per cycle (bounds one write transaction). */
  fanOutBatch: number;
  /** How often the worker looks for work when nothing kicks it. */
  intervalMs: number;
}

export function webhookSettings(c: Config): WebhookSettings {
  return {
    allowPrivate: c.webhookAllowPrivate,
    maxAttempts: c.webhookMaxAttempts,
    timeoutMs: c.webhookTimeoutMs,
    concurrency: c.webhookConcurrency,
    disableAfterMs: c.webhookDisableAfterMs,
    backoffMs: c.webhookBackoffMs,
    backoffMaxMs: c.webhookBackoffMaxMs,
    fanOutBatch: 2000,
    intervalMs: c.webhookIntervalMs,
  };
}
