import { afterAll, describe, expect, test } from 'bun:test';
import type { JsonValue } from '../../src/core/jcs.ts';
import { insertEvents } from '../../src/store/events.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';
import { startReceiver, waitFor, type Receiver } from './webhooks-receiver.ts';

/**
 * Delivery under failure, against real receivers on 127.0.0.1 that verify every request with the
 * `standardwebhooks` library: endpoints that fail with 5xx, hang past the deadline, answer slowly,
 * are down, redirect, or fail until dead-lettered or disabled. Events are written to the outbox the
 * way production writes them (insertEvents inside a write transaction).
 */
const admin = adminHeader();
const servers: TestServer[] = [];
const receivers: Receiver[] = [];

afterAll(async () => {
  await Promise.all([...servers.map((s) => s.close()), ...receivers.map((r) => r.close())]);
});

const FAST = {
  DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
  DSTP_WEBHOOK_INTERVAL_MS: '20',
  DSTP_WEBHOOK_TIMEOUT_MS: '300',
  DSTP_WEBHOOK_BACKOFF_MS: '20',
  DSTP_WEBHOOK_BACKOFF_MAX_MS: '100',
  DSTP_WEBHOOK_MAX_ATTEMPTS: '50',
};

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startServer({ env: { ...FAST, ...env } });
  servers.push(s);
  return s;
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

async function subscribe(s: TestServer, r: Receiver, events = ['tx.executed']): Promise<string> {
  const res = await call(s.url, 'POST', '/v1/webhooks', { json: { url: r.url, events }, headers: admin });
  expect(res.status).toBe(201);
  r.secrets = [res.body.secret];
  return res.body.id;
}

let marker = 0;
/** Commits `n` events to the outbox in one transaction; returns their `data.k` markers. */
async function emit(s: TestServer, n: number, type = 'tx.executed'): Promise<string[]> {
  const ks = Array.from({ length: n }, () => `e${++marker}`);
  await s.ctx!.db.write((tx) => insertEvents(tx, ks.map((k) => ({ type, subtree: null, data: { k } as JsonValue })), Date.now()));
  s.ctx!.kickWebhooks?.();
  return ks;
}

async function deliveries(s: TestServer, id: string, q = ''): Promise<any[]> {
  const r = await call(s.url, 'GET', `/v1/webhooks/${id}/deliveries?limit=500${q}`, { headers: admin });
  expect(r.status).toBe(200);
  return r.body.items;
}

/** Exactly `n` rows, all satisfying `pred` (an empty list must not pass for "all done"). */
function all(rows: any[], n: number, pred: (d: any) => boolean): boolean {
  return rows.length === n && rows.every(pred);
}

function acceptedKs(r: Receiver): string[] {
  return r.accepted.map((e) => e.data.k as string).sort();
}

describe('retries until the receiver takes it', () => {
  test('HTTP 500 three times, then 204: delivered once, same webhook-id and same body on every attempt', async () => {
    const s = await server();
    const r = await receiver();
    const tries = new Map<string, number>();
    r.behaviour = (_n, id) => {
      const t = (tries.get(id) ?? 0) + 1;
      tries.set(id, t);
      return t <= 3 ? { status: 500, body: 'try later' } : { status: 204 };
    };
    const id = await subscribe(s, r);
    const ks = await emit(s, 5);
    await r.until(() => r.accepted.length === 5, 15_000, '5 deliveries');
    expect(r.verifyFailures).toEqual([]);
    expect(acceptedKs(r)).toEqual([...ks].sort());
    for (const e of r.accepted) {
      expect(r.seen.get(e.id)).toBe(4);
      expect(r.bodies.get(e.id)!.size).toBe(1);
    }
    await waitFor(async () => all(await deliveries(s, id), 5, (d) => d.status === 'delivered'), 5000, 'rows marked delivered');
    const rows = await deliveries(s, id);
    for (const d of rows) expect(d).toMatchObject({ attempts: 4, lastStatus: 204, lastError: null, inFlight: false });
    const one = await call(s.url, 'GET', `/v1/webhooks/${id}/deliveries/${rows[0].id}`, { headers: admin });
    // Newest first: the success, then three failures with the receiver's status and body.
    expect(one.body.log.map((a: any) => [a.kind, a.attempt, a.status])).toEqual([
      ['attempt', 4, 204],
      ['attempt', 3, 500],
      ['attempt', 2, 500],
      ['attempt', 1, 500],
    ]);
    expect(one.body.log[1]).toMatchObject({ error: 'HTTP 500', response: 'try later' });
    const w = await call(s.url, 'GET', `/v1/webhooks/${id}`, { headers: admin });
    expect(w.body).toMatchObject({ status: 'active', failingSince: null, deliveries: { pending: 0, delivered: 5, dead: 0 } });
  });

  test('a receiver that hangs past the deadline gets everything once it answers again', async () => {
    const s = await server();
    const r = await receiver();
    r.behaviour = { kind: 'hang' };
    const id = await subscribe(s, r);
    const ks = await emit(s, 3);
    await r.until(() => r.requests >= 3, 5000, 'three hanging requests');
    await waitFor(async () => all(await deliveries(s, id), 3, (d) => d.attempts >= 1), 5000, 'timeouts recorded');
    const rows = await deliveries(s, id);
    for (const d of rows) {
      expect(d.status).toBe('pending');
      expect(d.lastStatus).toBeNull();
      expect(d.lastError).toMatch(/^timeout/);
    }
    r.behaviour = { kind: 'status', status: 200, body: 'ok' };
    r.releaseHung();
    await r.until(() => r.accepted.length === 3, 10_000, 'deliveries after the hang');
    expect(acceptedKs(r)).toEqual([...ks].sort());
    expect(r.verifyFailures).toEqual([]);
    await waitFor(async () => all(await deliveries(s, id), 3, (d) => d.status === 'delivered'), 5000, 'rows delivered');
  });

  test('slow answers within the deadline are delivered on the first attempt; too slow ones are retried', async () => {
    const s = await server();
    const r = await receiver();
    r.behaviour = { kind: 'status', status: 200, delayMs: 150 };
    const id = await subscribe(s, r);
    await emit(s, 2);
    await r.until(() => r.accepted.length === 2, 5000);
    await waitFor(async () => all(await deliveries(s, id), 2, (d) => d.status === 'delivered'), 5000);
    for (const d of await deliveries(s, id)) {
      expect(d.attempts).toBe(1);
      expect(d.lastLatencyMs).toBeGreaterThanOrEqual(140);
    }
    r.behaviour = { kind: 'status', status: 200, delayMs: 500 }; // past the 300 ms deadline
    const [k] = await emit(s, 1);
    await waitFor(async () => (await deliveries(s, id, '&status=pending')).some((d) => d.attempts >= 1), 5000, 'a timed-out attempt');
    r.behaviour = { kind: 'status', status: 200, delayMs: 20 };
    await r.until(() => r.acceptedIds.size === 3 && r.accepted.some((e) => e.data.k === k), 5000, 'the slow one');
    // The receiver may have processed the late answer too: then dedupe by id drops it.
    expect(r.accepted.filter((e) => e.data.k === k)).toHaveLength(1);
  });

  test('an endpoint that is down (connection refused) gets every event once it is back', async () => {
    const s = await server();
    const r = await receiver();
    const id = await subscribe(s, r);
    await r.down();
    const ks = await emit(s, 4);
    await waitFor(async () => all(await deliveries(s, id), 4, (d) => d.attempts >= 2), 5000, 'failed attempts while down');
    for (const d of await deliveries(s, id)) expect(d.lastError).toMatch(/^connection failed/);
    expect((await call(s.url, 'GET', `/v1/webhooks/${id}`, { headers: admin })).body.failingSince).toBeGreaterThan(0);
    await r.up();
    await r.until(() => r.accepted.length === 4, 10_000, 'deliveries after restart');
    expect(acceptedKs(r)).toEqual([...ks].sort());
    await waitFor(async () => (await call(s.url, 'GET', `/v1/webhooks/${id}`, { headers: admin })).body.failingSince === null, 5000, 'healthy again');
  });

  test('redirects are not followed: a 3xx is a failed attempt and the other host is never called', async () => {
    const s = await server({ DSTP_WEBHOOK_MAX_ATTEMPTS: '2' });
    const r = await receiver();
    const elsewhere = await receiver();
    r.behaviour = { kind: 'status', status: 307, headers: { location: elsewhere.url } };
    const id = await subscribe(s, r);
    await emit(s, 1);
    await waitFor(async () => (await deliveries(s, id, '&status=dead')).length === 1, 5000, 'dead after two redirects');
    const [d] = await deliveries(s, id);
    expect(d).toMatchObject({ lastStatus: 307, lastError: 'redirect 307 not followed', attempts: 2 });
    expect(elsewhere.requests).toBe(0);
  });

  test('response bodies are truncated in the delivery log', async () => {
    const s = await server({ DSTP_WEBHOOK_MAX_ATTEMPTS: '1' });
    const r = await receiver();
    r.behaviour = { kind: 'status', status: 500, body: 'x'.repeat(100_000) };
    const id = await subscribe(s, r);
    await emit(s, 1);
    await waitFor(async () => (await deliveries(s, id, '&status=dead')).length === 1, 5000);
    const [d] = await deliveries(s, id);
    expect(d.lastResponse.startsWith('x'.repeat(1024))).toBe(true);
    expect(d.lastResponse.length).toBeLessThan(1100);
    expect(d.lastResponse).toEndWith('(truncated)');
  });
});

describe('dead letter, redelivery, disabling', () => {
  test('after the attempt limit a delivery is dead; retry on request delivers it under the same id', async () => {
    const s = await server({ DSTP_WEBHOOK_MAX_ATTEMPTS: '3' });
    const r = await receiver();
    r.behaviour = { kind: 'status', status: 500 };
    const id = await subscribe(s, r);
    const ks = await emit(s, 2);
    await waitFor(async () => (await deliveries(s, id, '&status=dead')).length === 2, 10_000, 'two dead deliveries');
    const dead = await deliveries(s, id, '&status=dead');
    for (const d of dead) {
      expect(d.attempts).toBe(3);
      expect(r.seen.get(d.id)).toBe(3);
    }
    await Bun.sleep(150);
    expect(r.requests).toBe(6); // nothing more is sent to a dead delivery
    r.behaviour = { kind: 'status', status: 200 };
    for (const d of dead) {
      const res = await call(s.url, 'POST', `/v1/webhooks/${id}/deliveries/${d.id}/retry`, { headers: admin });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id: d.id, attempts: 0 });
    }
    await r.until(() => r.accepted.length === 2, 5000, 'redeliveries');
    expect(acceptedKs(r)).toEqual([...ks].sort());
    expect(new Set(r.accepted.map((e) => e.id))).toEqual(new Set(dead.map((d) => d.id)));
    const log = await call(s.url, 'GET', `/v1/webhooks/${id}/log?limit=500`, { headers: admin });
    expect(log.body.items.filter((e: any) => e.kind === 'retry')).toHaveLength(2);
  });

  test('an endpoint failing continuously is disabled with a notice in its log; events wait and arrive after enabling', async () => {
    const s = await server({ DSTP_WEBHOOK_DISABLE_AFTER_MS: '1000', DSTP_WEBHOOK_MAX_ATTEMPTS: '100' });
    const r = await receiver();
    r.behaviour = { kind: 'status', status: 503 };
    const id = await subscribe(s, r);
    const first = await emit(s, 2);
    await waitFor(async () => (await call(s.url, 'GET', `/v1/webhooks/${id}`, { headers: admin })).body.status === 'disabled', 10_000, 'auto-disable');
    const w = (await call(s.url, 'GET', `/v1/webhooks/${id}`, { headers: admin })).body;
    expect(w).toMatchObject({ status: 'disabled', disabledReason: 'failing' });
    expect(w.disabledAt - w.failingSince).toBeGreaterThanOrEqual(1000);
    const log = await call(s.url, 'GET', `/v1/webhooks/${id}/log?limit=500`, { headers: admin });
    const notice = log.body.items.find((e: any) => e.kind === 'disabled');
    expect(notice.error).toMatch(/^endpoint disabled: every attempt failed since /);
    // While disabled, new events are recorded but nothing is sent.
    const second = await emit(s, 2);
    await Bun.sleep(200);
    const quiet = r.requests;
    await Bun.sleep(300);
    expect(r.requests).toBe(quiet);
    const retry = await call(s.url, 'POST', `/v1/webhooks/${id}/deliveries/${(await deliveries(s, id))[0].id}/retry`, { headers: admin });
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('webhook_disabled');
    r.behaviour = { kind: 'status', status: 204 };
    expect((await call(s.url, 'POST', `/v1/webhooks/${id}/enable`, { headers: admin })).body.status).toBe('active');
    await r.until(() => r.accepted.length === 4, 10_000, 'the held events');
    expect(acceptedKs(r)).toEqual([...first, ...second].sort());
  });

  test('deleting a webhook drops its queue; sends in flight end harmlessly', async () => {
    const s = await server();
    const r = await receiver();
    r.behaviour = { kind: 'status', status: 200, delayMs: 100 };
    const id = await subscribe(s, r);
    await emit(s, 20);
    await r.until(() => r.requests >= 1, 5000);
    expect((await call(s.url, 'DELETE', `/v1/webhooks/${id}`, { headers: admin })).status).toBe(204);
    await Bun.sleep(300);
    const settled = r.requests;
    await Bun.sleep(200);
    expect(r.requests).toBe(settled);
    expect(settled).toBeLessThan(20);
    const left = await s.ctx!.db.read.execute('SELECT count(*) FROM webhook_deliveries');
    expect(Number(left.rows[0]![0])).toBe(0);
  });
});

describe('limits', () => {
  test('per-endpoint concurrency holds: never more than DSTP_WEBHOOK_CONCURRENCY requests at once', async () => {
    const s = await server({ DSTP_WEBHOOK_CONCURRENCY: '2' });
    const r = await receiver();
    r.behaviour = { kind: 'status', status: 200, delayMs: 30 };
    await subscribe(s, r);
    const ks = await emit(s, 30);
    await r.until(() => r.accepted.length === 30, 15_000, '30 deliveries');
    expect(acceptedKs(r)).toEqual([...ks].sort());
    expect(r.maxConcurrent).toBe(2);
  });

  test('event types and subtree filters: only listed types reach an endpoint; unknown future types are delivered to who lists them', async () => {
    const s = await server();
    const a = await receiver();
    const b = await receiver();
    await subscribe(s, a, ['checkpoint.created']);
    await subscribe(s, b, ['anchor.confirmed', 'subtree.halted']);
    const c = await emit(s, 2, 'checkpoint.created');
    const h = await emit(s, 1, 'subtree.halted');
    const x = await emit(s, 1, 'round.finalized'); // nobody listens
    await a.until(() => a.accepted.length === 2, 5000);
    await b.until(() => b.accepted.length === 1, 5000);
    await Bun.sleep(100);
    expect(acceptedKs(a)).toEqual(c.sort());
    expect(acceptedKs(b)).toEqual(h);
    expect(a.accepted.every((e) => e.type === 'checkpoint.created')).toBe(true);
    expect(b.accepted[0]!.type).toBe('subtree.halted');
    expect([...a.accepted, ...b.accepted].some((e) => e.data.k === x[0])).toBe(false);
  });
});
