import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type Res, type TestServer } from '../helpers/server.ts';
import { startReceiver, waitFor, type Receiver } from './webhooks-receiver.ts';

/**
 * Webhook management over HTTP and the full path transactions → rounds → outbox → signed
 * deliveries, against real receivers on 127.0.0.1 that verify with the `standardwebhooks` library.
 * `open` allows private targets (the receivers are on loopback); `strict` is a default node that
 * must refuse them.
 */
let open: TestServer;
let strict: TestServer;
let rcv: Receiver;
const alice = party('wh-api-alice');
const bob = party('wh-api-bob');
let coin: string;
let notes: string;
const admin = adminHeader();

beforeAll(async () => {
  [open, strict, rcv] = await Promise.all([
    startServer({ env: { DSTP_WEBHOOK_ALLOW_PRIVATE: '1', DSTP_WEBHOOK_INTERVAL_MS: '20' } }),
    startServer(),
    startReceiver(),
  ]);
  const c = subtreeRequest({
    network: open.network,
    owner: alice,
    name: 'coin',
    program: 'token',
    config: { symbol: 'WH', decimals: 0, minter: alice.key },
    authority: open.nodeKey,
    genesis: [
      { key: `balance/${alice.key}`, value: '10' },
      { key: 'supply', value: '10' },
    ],
  });
  coin = c.id;
  expect((await call(open.url, 'POST', '/v1/subtrees', { json: c.body, headers: admin })).status).toBe(201);
  const n = subtreeRequest({ network: open.network, owner: bob, name: 'notes', program: 'kv', config: { writers: 'any' }, authority: open.nodeKey });
  notes = n.id;
  expect((await call(open.url, 'POST', '/v1/subtrees', { json: n.body, headers: admin })).status).toBe(201);
});

afterAll(async () => {
  await Promise.all([open?.close(), strict?.close(), rcv?.close()]);
});

async function subscribe(base: string, body: Record<string, unknown>): Promise<{ id: string; secret: string; body: any }> {
  const r = await call(base, 'POST', '/v1/webhooks', { json: body, headers: admin });
  expect(r.status).toBe(201);
  return { id: r.body.id, secret: r.body.secret, body: r.body };
}

async function submit(env: unknown): Promise<string> {
  const r = await call(open.url, 'POST', '/v1/transactions', { json: env });
  expect(r.status).toBe(202);
  return r.body.id;
}

describe('management', () => {
  test('create shows the secret once; list, get, disable, enable, delete', async () => {
    const created = await subscribe(open.url, { url: rcv.url, events: ['tx.executed', 'tx.executed', 'round.finalized'], description: 'mgmt' });
    expect(created.id).toMatch(/^wh_[0-9a-f]{24}$/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(created.body).toMatchObject({ url: rcv.url, events: ['tx.executed', 'round.finalized'], subtree: null, description: 'mgmt', status: 'active' });

    const got = await call(open.url, 'GET', `/v1/webhooks/${created.id}`, { headers: admin });
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect(got.text).not.toContain(created.secret.slice(6));
    expect(got.body.deliveries).toEqual({ pending: 0, delivered: 0, dead: 0 });

    const list = await call(open.url, 'GET', '/v1/webhooks?limit=200', { headers: admin });
    expect(list.status).toBe(200);
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(created.id);
    expect(list.text).not.toContain(created.secret.slice(6));

    const off = await call(open.url, 'POST', `/v1/webhooks/${created.id}/disable`, { headers: admin });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
    const onlyDisabled = await call(open.url, 'GET', '/v1/webhooks?status=disabled', { headers: admin });
    expect(onlyDisabled.body.items.map((w: { id: string }) => w.id)).toEqual([created.id]);
    const on = await call(open.url, 'POST', `/v1/webhooks/${created.id}/enable`, { headers: admin });
    expect(on.body).toMatchObject({ status: 'active', disabledReason: null });
    const log = await call(open.url, 'GET', `/v1/webhooks/${created.id}/log`, { headers: admin });
    expect(log.body.items.map((e: { kind: string }) => e.kind)).toEqual(['enabled', 'disabled']);

    expect((await call(open.url, 'DELETE', `/v1/webhooks/${created.id}`, { headers: admin })).status).toBe(204);
    const gone = await call(open.url, 'GET', `/v1/webhooks/${created.id}`, { headers: admin });
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('unknown_webhook');
  });

  test('list pages by id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await subscribe(open.url, { url: rcv.url, events: ['checkpoint.created'], description: `page ${i}` })).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 50; guard++) {
      const r = await call(open.url, 'GET', `/v1/webhooks?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { headers: admin });
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((w: { id: string }) => w.id));
      if (!r.body.next) break;
      cursor = r.body.next;
    }
    expect(seen).toEqual([...seen].sort());
    for (const id of ids) expect(seen).toContain(id);
    for (const id of ids) expect((await call(open.url, 'DELETE', `/v1/webhooks/${id}`, { headers: admin })).status).toBe(204);
  });

  test('test ping is signed (receiver verifies with standardwebhooks) and logged', async () => {
    const w = await subscribe(open.url, { url: rcv.url, events: ['tx.failed'] });
    rcv.secrets = [w.secret];
    const before = rcv.accepted.length;
    const p = await call(open.url, 'POST', `/v1/webhooks/${w.id}/test`, { headers: admin });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ ok: true, status: 204, error: null });
    expect(rcv.verifyFailures).toEqual([]);
    const got = rcv.accepted.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ id: p.body.webhookId, type: 'webhook.test', data: { webhook: w.id } });
    const log = await call(open.url, 'GET', `/v1/webhooks/${w.id}/log`, { headers: admin });
    expect(log.body.items[0]).toMatchObject({ kind: 'ping', status: 204, delivery: null });
    await call(open.url, 'DELETE', `/v1/webhooks/${w.id}`, { headers: admin });
  });

  test('secret rotation: the new secret signs at once, the old one keeps verifying during the grace period', async () => {
    const r2 = await startReceiver();
    try {
      const w = await subscribe(open.url, { url: r2.url, events: ['tx.failed'] });
      const rot = await call(open.url, 'POST', `/v1/webhooks/${w.id}/rotate-secret`, { headers: admin, json: { graceMs: 60_000 } });
      expect(rot.status).toBe(200);
      expect(rot.body.secret).toMatch(/^whsec_/);
      expect(rot.body.secret).not.toBe(w.secret);
      expect(rot.body.previousSecretExpiresAt).toBeGreaterThan(Date.now());
      // A receiver still on the old secret, then one already on the new secret: both verify.
      for (const secrets of [[w.secret], [rot.body.secret]]) {
        r2.secrets = secrets;
        const p = await call(open.url, 'POST', `/v1/webhooks/${w.id}/test`, { headers: admin });
        expect(p.body.ok).toBe(true);
      }
      expect(r2.verifyFailures).toEqual([]);
      // Without a grace period the old secret stops at once.
      const rot2 = await call(open.url, 'POST', `/v1/webhooks/${w.id}/rotate-secret`, { headers: admin, json: { graceMs: 0 } });
      r2.secrets = [rot.body.secret];
      const stale = await call(open.url, 'POST', `/v1/webhooks/${w.id}/test`, { headers: admin });
      expect(stale.body).toMatchObject({ ok: false, status: 400 });
      expect(r2.verifyFailures).toHaveLength(1);
      r2.secrets = [rot2.body.secret];
      expect((await call(open.url, 'POST', `/v1/webhooks/${w.id}/test`, { headers: admin })).body.ok).toBe(true);
      // An empty POST (no body) rotates with the default grace.
      const rot3 = await call(open.url, 'POST', `/v1/webhooks/${w.id}/rotate-secret`, { headers: admin });
      expect(rot3.status).toBe(200);
      expect(rot3.body.previousSecretExpiresAt - Date.now()).toBeGreaterThan(23 * 3600_000);
      await call(open.url, 'DELETE', `/v1/webhooks/${w.id}`, { headers: admin });
    } finally {
      await r2.close();
    }
  });
});

describe('end to end: transactions → rounds → webhooks', () => {
  test('every tx.executed, tx.failed and round.finalized arrives once, verified, with the data of the round', async () => {
    const r = await startReceiver();
    const rNotes = await startReceiver();
    try {
      const all = await subscribe(open.url, { url: r.url, events: ['tx.executed', 'tx.failed', 'round.finalized'] });
      const onlyNotes = await subscribe(open.url, { url: rNotes.url, events: ['tx.executed'], subtree: notes });
      r.secrets = [all.secret];
      rNotes.secrets = [onlyNotes.secret];
      // Round 1 of coin: two transfers, the second overdraws (fails in execution).
      const t0 = signedTx(alice, { network: open.network, subtree: coin, nonce: 0, call: 'transfer', args: { to: bob.key, amount: '3' } });
      const t1 = signedTx(alice, { network: open.network, subtree: coin, nonce: 1, call: 'transfer', args: { to: bob.key, amount: '8' } }); // admitted (8 ≤ 10), fails after t0
      const t2 = signedTx(bob, { network: open.network, subtree: notes, nonce: 0, call: 'set', args: { key: 'k', value: 'v' } });
      const [id0, id1, id2] = [await submit(t0), await submit(t1), await submit(t2)];
      const tick = await call(open.url, 'POST', '/v1/leader/tick', { headers: admin });
      expect(tick.status).toBe(200);
      const rounds = tick.body.rounds as { subtree: string; height: number; hash: string; stateRoot: string }[];
      expect(rounds).toHaveLength(2);

      await r.until(() => r.accepted.length >= 5, 10_000, '5 events');
      await rNotes.until(() => rNotes.accepted.length >= 1, 10_000, 'the notes event');
      await Bun.sleep(100); // nothing more may come
      expect(r.verifyFailures).toEqual([]);
      expect(r.duplicates).toBe(0);
      const byType = (t: string) => r.accepted.filter((e) => e.type === t);
      expect(byType('tx.executed').map((e) => e.data.tx).sort()).toEqual([id0, id2].sort());
      expect(byType('tx.failed').map((e) => e.data)).toEqual([{ subtree: coin, tx: id1, height: 1, index: 1, code: expect.any(String) }]);
      const fin = byType('round.finalized').map((e) => e.data);
      for (const round of rounds) {
        expect(fin).toContainEqual(expect.objectContaining({ subtree: round.subtree, height: round.height, hash: round.hash, stateRoot: round.stateRoot }));
        // The round the webhook reports is the round the API serves.
        const served = await call(open.url, 'GET', `/v1/subtrees/${round.subtree}/rounds/${round.height}`);
        expect(served.body.hash).toBe(round.hash);
      }
      for (const e of r.accepted) {
        expect(e.id).toMatch(new RegExp(`^msg_${all.id.slice(3)}_[0-9]+$`));
        expect(Math.abs(e.sentAt * 1000 - Date.now())).toBeLessThan(60_000);
        expect(Number.isNaN(Date.parse(e.timestamp))).toBe(false);
      }
      // The subtree filter: only notes' executed transaction.
      expect(rNotes.accepted.map((e) => [e.type, e.data.tx])).toEqual([['tx.executed', id2]]);

      // The delivery list tells the same story.
      const d = await call(open.url, 'GET', `/v1/webhooks/${all.id}/deliveries`, { headers: admin });
      expect(d.status).toBe(200);
      expect(d.body.items).toHaveLength(5);
      for (const item of d.body.items) {
        expect(item).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 204, lastError: null });
        expect(item.lastLatencyMs).toBeGreaterThanOrEqual(0);
      }
      expect(d.body.items.map((x: { id: string }) => x.id).sort()).toEqual(r.accepted.map((e) => e.id).sort());
      const one = await call(open.url, 'GET', `/v1/webhooks/${all.id}/deliveries/${d.body.items[0].id}`, { headers: admin });
      expect(one.status).toBe(200);
      expect(one.body.payload).toEqual({
        type: d.body.items[0].event.type,
        timestamp: expect.any(String),
        data: r.accepted.find((e) => e.id === d.body.items[0].id)!.data,
      });
      expect(one.body.log).toHaveLength(1);

      // Paging: newest event first, two per page.
      const pages: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const p = await call(open.url, 'GET', `/v1/webhooks/${all.id}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { headers: admin });
        pages.push(...p.body.items.map((x: { id: string }) => x.id));
        if (!p.body.next) break;
        cursor = p.body.next;
      }
      expect(pages).toEqual(d.body.items.map((x: { id: string }) => x.id));

      // Redelivery on request: same webhook-id, the receiver drops it as a duplicate.
      const again = await call(open.url, 'POST', `/v1/webhooks/${all.id}/deliveries/${d.body.items[0].id}/retry`, { headers: admin });
      expect(again.status).toBe(202);
      await r.until(() => r.duplicates === 1, 5000, 'the redelivery');
      expect(r.seen.get(d.body.items[0].id)).toBe(2);
      await waitFor(async () => (await call(open.url, 'GET', `/v1/webhooks/${all.id}`, { headers: admin })).body.deliveries.delivered === 5, 5000);
      for (const w of [all, onlyNotes]) await call(open.url, 'DELETE', `/v1/webhooks/${w.id}`, { headers: admin });
    } finally {
      await Promise.all([r.close(), rNotes.close()]);
    }
  });

  test('a subscription receives only events committed after it was created', async () => {
    const r = await startReceiver();
    try {
      const t = signedTx(bob, { network: open.network, subtree: notes, nonce: 1, call: 'set', args: { key: 'before', value: 1 } });
      expect((await call(open.url, 'POST', '/v1/transactions', { json: t })).status).toBe(202);
      expect((await call(open.url, 'POST', '/v1/leader/tick', { headers: admin })).body.rounds).toHaveLength(1);
      const w = await subscribe(open.url, { url: r.url, events: ['tx.executed'], subtree: notes });
      r.secrets = [w.secret];
      const t2 = signedTx(bob, { network: open.network, subtree: notes, nonce: 2, call: 'set', args: { key: 'after', value: 2 } });
      const id2 = await submit(t2);
      expect((await call(open.url, 'POST', '/v1/leader/tick', { headers: admin })).body.rounds).toHaveLength(1);
      await r.until(() => r.accepted.length >= 1, 5000);
      await Bun.sleep(100);
      expect(r.accepted.map((e) => e.data.tx)).toEqual([id2]);
      await call(open.url, 'DELETE', `/v1/webhooks/${w.id}`, { headers: admin });
    } finally {
      await r.close();
    }
  });
});

// ---------- bad input ----------

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string | (() => string);
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  code: string;
}

async function counts(s: TestServer): Promise<string> {
  const rs = await s.ctx!.db.read.execute(
    `SELECT (SELECT count(*) FROM webhook_subscriptions), (SELECT count(*) FROM webhook_deliveries),
            (SELECT group_concat(id || status || coalesce(previous_secret, '') || secret) FROM webhook_subscriptions),
            (SELECT group_concat(id || status || attempts || next_attempt_at) FROM webhook_deliveries)`,
  );
  return JSON.stringify(rs.rows);
}

function runCases(server: () => TestServer, cases: Case[]) {
  for (const c of cases) {
    test(`${c.method} ${typeof c.path === 'string' ? c.path : '…'}: ${c.name} → ${c.status} ${c.code}`, async () => {
      const s = server();
      const before = await counts(s);
      const headers = { ...admin, ...c.headers };
      const r: Res = await call(s.url, c.method, typeof c.path === 'string' ? c.path : c.path(), {
        headers,
        ...(c.json !== undefined ? { json: c.json } : {}),
        ...(c.raw !== undefined ? { raw: c.raw } : {}),
      });
      expect(r.type).toBe('application/problem+json');
      expect({ status: r.status, code: r.body.code }).toEqual({ status: c.status, code: c.code });
      expect(r.body).toMatchObject({ type: `urn:dstp:problem:${c.code}`, status: c.status, title: expect.any(String), detail: expect.any(String) });
      expect(await counts(s)).toBe(before);
    });
  }
}

const url = (u: string) => ({ url: u, events: ['tx.executed'] });

describe('bad input on a default node (private targets refused)', () => {
  const P = '/v1/webhooks';
  runCases(
    () => strict,
    [
      ...[
        'http://127.0.0.1:9/hook',
        'http://127.1.2.3/',
        'http://localhost:8080/',
        'http://[::1]/',
        'http://[::ffff:127.0.0.1]/',
        'http://[::ffff:10.0.0.1]/',
        'http://0x7f.1/',
        'http://2130706433/',
        'http://0177.0.0.1/',
        'http://017700000001/',
        'http://0x7f000001/',
        'http://LOCALHOST/',
        'http://[::ffff:7f00:1]/',
        'http://[::ffff:169.254.169.254]/',
        'http://[0:0:0:0:0:0:0:1]/',
        'http://169.254.1.1:8080/',
        'http://10.0.0.1.:80/',
        'http://0.0.0.0/',
        'http://10.1.2.3/',
        'http://172.16.0.1/',
        'http://192.168.1.1/',
        'http://169.254.169.254/latest/meta-data/',
        'http://100.64.0.1/',
        'http://[fd00::1]/',
        'http://[fe80::1]/',
        'http://224.0.0.1/',
        'http://[ff02::1]/',
        'https://[64:ff9b::7f00:1]/',
      ].map((u): Case => ({ name: `private target ${u}`, method: 'POST', path: P, json: url(u), status: 400, code: 'webhook_target_private' })),
      { name: 'host that does not resolve', method: 'POST', path: P, json: url('https://nowhere.invalid/hook'), status: 400, code: 'webhook_target_unresolvable' },
    ],
  );
});

describe('bad input', () => {
  const P = '/v1/webhooks';
  const W = () => `/v1/webhooks/${existing}`;
  let existing = '';
  beforeAll(async () => {
    existing = (await subscribe(open.url, { url: rcv.url, events: ['subtree.halted'] })).id;
  });
  runCases(
    () => open,
    [
      { name: 'no token', method: 'POST', path: P, json: url(rcv?.url ?? 'http://127.0.0.1/'), headers: { authorization: '' }, status: 401, code: 'unauthorized' },
      { name: 'wrong token', method: 'POST', path: P, json: url('http://127.0.0.1/'), headers: { authorization: 'Bearer not-the-admin-token' }, status: 401, code: 'unauthorized' },
      { name: 'no token (list)', method: 'GET', path: P, headers: { authorization: '' }, status: 401, code: 'unauthorized' },
      { name: 'no token (delete)', method: 'DELETE', path: W, headers: { authorization: '' }, status: 401, code: 'unauthorized' },
      { name: 'no token (dispatch)', method: 'POST', path: '/v1/webhooks/dispatch', headers: { authorization: '' }, status: 401, code: 'unauthorized' },
      { name: 'not a URL', method: 'POST', path: P, json: url('not a url'), status: 400, code: 'invalid_webhook_url' },
      { name: 'relative URL', method: 'POST', path: P, json: url('/hook'), status: 400, code: 'invalid_webhook_url' },
      { name: 'ftp URL', method: 'POST', path: P, json: url('ftp://127.0.0.1/x'), status: 400, code: 'invalid_webhook_url' },
      { name: 'javascript URL', method: 'POST', path: P, json: url('javascript:alert(1)'), status: 400, code: 'invalid_webhook_url' },
      { name: 'file URL', method: 'POST', path: P, json: url('file:///etc/passwd'), status: 400, code: 'invalid_webhook_url' },
      { name: 'credentials in URL', method: 'POST', path: P, json: url('http://user:pw@127.0.0.1/x'), status: 400, code: 'invalid_webhook_url' },
      { name: 'fragment', method: 'POST', path: P, json: url('http://127.0.0.1/x#y'), status: 400, code: 'invalid_webhook_url' },
      { name: 'empty URL', method: 'POST', path: P, json: url(''), status: 400, code: 'invalid_webhook_url' },
      { name: 'URL too long', method: 'POST', path: P, json: url(`http://127.0.0.1/${'a'.repeat(2100)}`), status: 400, code: 'validation_failed' },
      { name: 'unknown event name', method: 'POST', path: P, json: { url: 'http://127.0.0.1/', events: ['tx.executed', 'tx.stolen'] }, status: 400, code: 'unknown_event_type' },
      { name: 'internal ping type', method: 'POST', path: P, json: { url: 'http://127.0.0.1/', events: ['webhook.test'] }, status: 400, code: 'unknown_event_type' },
      { name: 'no events', method: 'POST', path: P, json: { url: 'http://127.0.0.1/', events: [] }, status: 400, code: 'validation_failed' },
      { name: 'events missing', method: 'POST', path: P, json: { url: 'http://127.0.0.1/' }, status: 400, code: 'validation_failed' },
      { name: 'events not an array', method: 'POST', path: P, json: { url: 'http://127.0.0.1/', events: 'tx.executed' }, status: 400, code: 'validation_failed' },
      { name: 'url not a string', method: 'POST', path: P, json: { url: 42, events: ['tx.executed'] }, status: 400, code: 'validation_failed' },
      { name: 'unknown field', method: 'POST', path: P, json: { ...url('http://127.0.0.1/'), secret: 'whsec_mine' }, status: 400, code: 'validation_failed' },
      { name: 'subtree not hex', method: 'POST', path: P, json: { ...url('http://127.0.0.1/'), subtree: 'xyz' }, status: 400, code: 'validation_failed' },
      { name: 'unknown subtree', method: 'POST', path: P, json: { ...url('http://127.0.0.1/'), subtree: 'ab'.repeat(32) }, status: 404, code: 'unknown_subtree' },
      { name: 'description too long', method: 'POST', path: P, json: { ...url('http://127.0.0.1/'), description: 'd'.repeat(300) }, status: 400, code: 'validation_failed' },
      { name: 'body is an array', method: 'POST', path: P, json: [], status: 400, code: 'validation_failed' },
      { name: 'malformed JSON', method: 'POST', path: P, raw: '{"url":', headers: { 'content-type': 'application/json' }, status: 400, code: 'malformed_json' },
      { name: 'text/plain', method: 'POST', path: P, raw: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
      { name: 'malformed id', method: 'GET', path: '/v1/webhooks/wh_XYZ', status: 400, code: 'validation_failed' },
      { name: 'unknown id', method: 'GET', path: `/v1/webhooks/wh_${'0'.repeat(24)}`, status: 404, code: 'unknown_webhook' },
      { name: 'delete unknown', method: 'DELETE', path: `/v1/webhooks/wh_${'0'.repeat(24)}`, status: 404, code: 'unknown_webhook' },
      { name: 'disable unknown', method: 'POST', path: `/v1/webhooks/wh_${'0'.repeat(24)}/disable`, status: 404, code: 'unknown_webhook' },
      { name: 'rotate unknown', method: 'POST', path: `/v1/webhooks/wh_${'0'.repeat(24)}/rotate-secret`, status: 404, code: 'unknown_webhook' },
      { name: 'rotate with a negative grace', method: 'POST', path: () => `${W()}/rotate-secret`, json: { graceMs: -1 }, status: 400, code: 'validation_failed' },
      { name: 'rotate with a huge grace', method: 'POST', path: () => `${W()}/rotate-secret`, json: { graceMs: 1e12 }, status: 400, code: 'validation_failed' },
      { name: 'ping unknown', method: 'POST', path: `/v1/webhooks/wh_${'0'.repeat(24)}/test`, status: 404, code: 'unknown_webhook' },
      { name: 'deliveries: unknown query param', method: 'GET', path: () => `${W()}/deliveries?foo=1`, status: 400, code: 'validation_failed' },
      { name: 'deliveries: limit 0', method: 'GET', path: () => `${W()}/deliveries?limit=0`, status: 400, code: 'validation_failed' },
      { name: 'deliveries: bad status', method: 'GET', path: () => `${W()}/deliveries?status=lost`, status: 400, code: 'validation_failed' },
      { name: 'deliveries of unknown webhook', method: 'GET', path: `/v1/webhooks/wh_${'0'.repeat(24)}/deliveries`, status: 404, code: 'unknown_webhook' },
      { name: 'malformed delivery id', method: 'GET', path: () => `${W()}/deliveries/42`, status: 400, code: 'validation_failed' },
      { name: 'unknown delivery', method: 'GET', path: () => `${W()}/deliveries/msg_${'0'.repeat(24)}_1`, status: 404, code: 'unknown_delivery' },
      { name: 'retry unknown delivery', method: 'POST', path: () => `${W()}/deliveries/msg_${'0'.repeat(24)}_1/retry`, status: 404, code: 'unknown_delivery' },
      { name: 'list: bad cursor', method: 'GET', path: '/v1/webhooks?cursor=zzz', status: 400, code: 'validation_failed' },
      { name: 'list: limit too big', method: 'GET', path: '/v1/webhooks?limit=100000', status: 400, code: 'validation_failed' },
    ],
  );
});
