/**
 * 10,000 events to 5 endpoints, one of which fails every other request: every event reaches every
 * endpoint (verified with `standardwebhooks`, deduplicated by webhook-id), none is lost or
 * dead-lettered, and the node's counts (deliveries, attempts, log) agree with what the receivers
 * saw. The node is a real process; the test commits the events from its own connection to the same
 * libSQL file the way production writes them (insertEvents inside write transactions, 100 per
 * transaction) while the node is already delivering.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import type { JsonValue } from '../../src/core/jcs.ts';
import { openDatabase } from '../../src/store/db.ts';
import { insertEvents } from '../../src/store/events.ts';
import { startReceiver, type Receiver } from '../integration/webhooks-receiver.ts';
import { cleanupAll, http, openReader, spawnNode, tempDir } from './harness.ts';

const EVENTS = 10_000;
const PER_TX = 100;
const ENDPOINTS = 5;

const receivers: Receiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await cleanupAll();
});

describe('reliability: webhook load', () => {
  test(`${EVENTS} events × ${ENDPOINTS} endpoints, one failing half the time: all delivered, none lost, counted`, async () => {
    const dbPath = join(tempDir('dstp-whload-'), 'node.db');
    const node = await spawnNode({
      dbPath,
      nodeKeyHex: '11'.repeat(32),
      env: {
        DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
        DSTP_WEBHOOK_INTERVAL_MS: '20',
        DSTP_WEBHOOK_BACKOFF_MS: '5',
        DSTP_WEBHOOK_BACKOFF_MAX_MS: '50',
        // 50% failures: 40 attempts make a dead letter a 2^-40 event.
        DSTP_WEBHOOK_MAX_ATTEMPTS: '40',
        DSTP_WEBHOOK_CONCURRENCY: '16',
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < ENDPOINTS; i++) {
      const r = await startReceiver();
      receivers.push(r);
      const w = await http(node.url, 'POST', '/v1/webhooks', { admin: true, json: { url: r.url, events: ['tx.executed'] } });
      expect(w.status).toBe(201);
      r.secrets = [w.body.secret];
      ids.push(w.body.id);
    }
    const flaky = receivers[0]!;
    flaky.behaviour = (n) => (n % 2 === 0 ? { status: 500, body: 'flaky' } : { status: 204 });

    const db = await openDatabase({ url: `file:${dbPath}` });
    const t0 = performance.now();
    try {
      for (let i = 0; i < EVENTS; i += PER_TX) {
        const batch = Array.from({ length: PER_TX }, (_, j) => ({ type: 'tx.executed', subtree: null, data: { n: i + j } as JsonValue }));
        await db.write((tx) => insertEvents(tx, batch, Date.now()));
      }
    } finally {
      await db.close();
    }
    const committed = performance.now() - t0;
    const doneAt = await Promise.all(
      receivers.map(async (r) => {
        await r.until(() => r.acceptedIds.size >= EVENTS, 50_000, `${EVENTS} events at ${r.url}`);
        return Math.round(performance.now() - t0);
      }),
    );
    const elapsed = performance.now() - t0;

    const all = Array.from({ length: EVENTS }, (_, n) => n);
    for (const r of receivers) {
      expect(r.verifyFailures).toEqual([]);
      expect(r.accepted.map((e) => e.data.n as number).sort((a, b) => a - b)).toEqual(all);
    }
    expect(flaky.requests).toBeGreaterThan(EVENTS * 1.5); // it really failed about half the time

    // The node's books agree with what the receivers saw: one delivery per (event, endpoint), all
    // delivered, none dead, one attempt counted (and logged) per request each receiver answered.
    const reader = await openReader(dbPath);
    try {
      const deadline = performance.now() + 10_000;
      let rows: Record<string, unknown>[] = [];
      const matches = () =>
        ids.every((id, i) => {
          const x = rows.find((r) => r.sub === id);
          return x && Number(x.n) === EVENTS && Number(x.delivered) === EVENTS && Number(x.dead) === 0 && Number(x.attempts) === receivers[i]!.requests;
        });
      do {
        rows = await reader.all(
          `SELECT subscription_id AS sub, count(*) AS n, sum(status = 'delivered') AS delivered, sum(status = 'dead') AS dead,
                  sum(attempts) AS attempts FROM webhook_deliveries GROUP BY subscription_id`,
        );
        if (matches()) break;
        await Bun.sleep(50);
      } while (performance.now() < deadline);
      expect(matches()).toBe(true);
      for (let i = 1; i < ENDPOINTS; i++) expect(receivers[i]!.requests).toBe(EVENTS); // healthy: one request each
      const log = await reader.all("SELECT count(*) AS n FROM webhook_attempts WHERE kind = 'attempt'");
      expect(Number(log[0]!.n)).toBe(receivers.reduce((a, r) => a + r.requests, 0));
    } finally {
      reader.close();
    }
    expect(node.stderr()).not.toContain('"level":"error"');
    console.log(
      `webhook load: ${EVENTS} events committed in ${Math.round(committed)} ms; ${EVENTS * ENDPOINTS} deliveries ` +
        `(+${flaky.requests - EVENTS} retries) done in ${Math.round(elapsed)} ms = ${Math.round((EVENTS * ENDPOINTS * 1000) / elapsed)} deliveries/s; ` +
        `endpoints done at ${doneAt.join(', ')} ms (flaky first)`,
    );
    await node.stop();
  }, 60_000);
});
