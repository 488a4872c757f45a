import { afterAll, describe, expect, test } from 'bun:test';
import type { JsonValue } from '../../src/core/jcs.ts';
import { insertEvents } from '../../src/store/events.ts';
import { parseRetryAfter, retryDelayMs } from '../../src/webhooks/backoff.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';
import { startReceiver, waitFor, type Receiver } from './webhooks-receiver.ts';

/**
 * Retry timing: the delay rule itself (exponential, equal jitter, cap, Retry-After), then the
 * real worker against a real receiver that always fails — the gaps between the attempts of one
 * delivery double within the jitter bounds, a `Retry-After` stretches the next gap, and after
 * DSTP_WEBHOOK_MAX_ATTEMPTS the delivery is dead-lettered with every attempt in its log.
 */
const admin = adminHeader();
const servers: TestServer[] = [];
const receivers: Receiver[] = [];
afterAll(async () => {
  await Promise.all([...servers.map((s) => s.close()), ...receivers.map((r) => r.close())]);
});

describe('the delay rule', () => {
  const o = { baseMs: 1000, maxMs: 60_000 };

  test('attempt n waits between half and all of base·2^(n-1), capped at the maximum', () => {
    for (let n = 1; n <= 12; n++) {
      const step = Math.min(o.maxMs, o.baseMs * 2 ** (n - 1));
      expect(retryDelayMs(n, o, () => 0)).toBe(step / 2);
      expect(retryDelayMs(n, o, () => 0.999_999)).toBeLessThanOrEqual(step);
      expect(retryDelayMs(n, o, () => 0.999_999)).toBeGreaterThan(step * 0.99);
    }
    expect(retryDelayMs(40, o, () => 0.999_999)).toBeLessThanOrEqual(o.maxMs);
  });

  test('jitter spreads the retries of many deliveries over the whole window', () => {
    const n = 4;
    const step = o.baseMs * 2 ** (n - 1);
    const delays = Array.from({ length: 2000 }, () => retryDelayMs(n, o));
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(step / 2);
      expect(d).toBeLessThanOrEqual(step);
    }
    expect(new Set(delays).size).toBeGreaterThan(500);
    // Both halves of the window are used.
    expect(delays.filter((d) => d < step * 0.75).length).toBeGreaterThan(500);
    expect(delays.filter((d) => d >= step * 0.75).length).toBeGreaterThan(500);
  });

  test('Retry-After (seconds or HTTP date) lengthens a delay, never beyond the maximum', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(retryDelayMs(1, o, () => 0, 7000)).toBe(7000);
    expect(retryDelayMs(1, o, () => 0, 3_600_000)).toBe(o.maxMs);
    expect(retryDelayMs(3, o, () => 0, 100)).toBe(2000); // a shorter Retry-After does not shorten it
  });
});

describe('the worker', () => {
  test('gaps between attempts double within the jitter bounds; Retry-After is honoured; dead letter after the limit', async () => {
    const BASE = 120;
    const MAX_ATTEMPTS = 5;
    const s = await startServer({
      env: {
        DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
        DSTP_WEBHOOK_INTERVAL_MS: '10',
        DSTP_WEBHOOK_BACKOFF_MS: String(BASE),
        DSTP_WEBHOOK_BACKOFF_MAX_MS: '5000',
        DSTP_WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        DSTP_WEBHOOK_TIMEOUT_MS: '1000',
      },
    });
    servers.push(s);
    const arrivals: number[] = [];
    const rcv = await startReceiver({
      behaviour: (n) => {
        arrivals.push(performance.now());
        // The 3rd attempt asks for 1 s: longer than its back-off step (4·BASE at most).
        return n === 3 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 500, body: 'nope' };
      },
    });
    receivers.push(rcv);
    const w = await call(s.url, 'POST', '/v1/webhooks', { json: { url: rcv.url, events: ['tx.executed'] }, headers: admin });
    rcv.secrets = [w.body.secret];
    await s.ctx!.db.write((tx) => insertEvents(tx, [{ type: 'tx.executed', subtree: null, data: { k: 'backoff' } as JsonValue }], Date.now()));
    s.ctx!.kickWebhooks?.();

    let delivery: any;
    await waitFor(async () => {
      const r = await call(s.url, 'GET', `/v1/webhooks/${w.body.id}/deliveries`, { headers: admin });
      delivery = r.body.items[0];
      return delivery?.status === 'dead';
    }, 15_000, 'the dead letter');
    expect(arrivals).toHaveLength(MAX_ATTEMPTS);
    expect(delivery).toMatchObject({ attempts: MAX_ATTEMPTS, lastStatus: 500, lastResponse: 'nope', nextAttemptAt: null });
    expect(rcv.verifyFailures).toEqual([]);
    expect(new Set(rcv.seen.keys()).size).toBe(1); // one webhook-id for every attempt

    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    const SLACK = 300; // worker interval, scheduling, the send itself
    gaps.forEach((gap, i) => {
      const attempt = i + 1; // the gap after failed attempt n
      const step = BASE * 2 ** (attempt - 1);
      const floor = attempt === 3 ? 1000 : step / 2;
      const ceil = attempt === 3 ? 1000 : step;
      expect(gap).toBeGreaterThanOrEqual(floor - 5);
      expect(gap).toBeLessThanOrEqual(ceil + SLACK);
    });
    const log = await call(s.url, 'GET', `/v1/webhooks/${w.body.id}/log`, { headers: admin });
    expect(log.body.items.filter((e: { kind: string }) => e.kind === 'attempt').map((e: { attempt: number }) => e.attempt).sort()).toEqual([1, 2, 3, 4, 5]);
  }, 30_000);
});
