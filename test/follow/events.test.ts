import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config.ts';
import { createNode, type DstpNode } from '../../src/node.ts';
import { openDatabase } from '../../src/store/db.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';
import { openSse, type SseReader } from './sse.ts';

/**
 * SPEC §12 "Events" over a real node (Bun.serve, libSQL file) read with a real SSE parser: ids,
 * `from`, `Last-Event-ID` (and that it wins over `from`), the start after the head, heartbeats, and
 * a second instance on the same database that streams rounds the first one commits.
 */
let s: TestServer;
let second: { node: DstpNode; server: ReturnType<typeof Bun.serve>; url: string };
const alice = party('events-alice');
const bob = party('events-bob');
let coin: string;
let notes: string;
let nonce = 0;
const open: SseReader[] = [];

async function sse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const r = await openSse(url, headers);
  open.push(r);
  return r;
}

async function transferAndTick(): Promise<void> {
  const tx = signedTx(alice, { network: s.network, subtree: coin, nonce: nonce++, call: 'transfer', args: { to: bob.key, amount: '1' } });
  expect((await call(s.url, 'POST', '/v1/transactions', { json: tx })).status).toBe(202);
  expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
}

beforeAll(async () => {
  s = await startServer({ env: { DSTP_EVENTS_POLL_MS: '20', DSTP_EVENTS_HEARTBEAT_MS: '100' } });
  const c = subtreeRequest({
    network: s.network,
    owner: alice,
    name: 'coin',
    program: 'token',
    config: { symbol: 'EV', decimals: 0, minter: alice.key },
    authority: s.nodeKey,
    genesis: [{ key: `balance/${alice.key}`, value: '100' }, { key: 'supply', value: '100' }],
  });
  coin = c.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: c.body, headers: adminHeader() })).status).toBe(201);
  const n = subtreeRequest({ network: s.network, owner: bob, name: 'notes', program: 'kv', config: { writers: 'any' }, authority: s.nodeKey });
  notes = n.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: n.body, headers: adminHeader() })).status).toBe(201);
  for (let i = 0; i < 3; i++) await transferAndTick(); // rounds 1..3

  // A second instance of the node on the same database file, without a leader of its own.
  const config = loadConfig({ DSTP_DATABASE_URL: s.dbUrl, DSTP_NETWORK: s.network, DSTP_LOG: 'error', DSTP_OTS_CALENDARS: 'none', DSTP_EVENTS_POLL_MS: '20' });
  const node = await createNode(config, { db: await openDatabase({ url: config.databaseUrl }), nodeSecret: s.nodeSecret, scheduler: false });
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: node.app.fetch });
  second = { node, server, url: `http://127.0.0.1:${server.port}` };
});

afterAll(async () => {
  for (const r of open) r.close();
  await second?.server.stop(true);
  await second?.node.close();
  await s?.close();
});

describe('GET /v1/subtrees/:id/events', () => {
  test('?from is inclusive; ids are heights; data is the round object of GET …/rounds/:height', async () => {
    const r = await sse(`${s.url}/v1/subtrees/${coin}/events?from=1`);
    expect(r.status).toBe(200);
    expect(r.contentType).toStartWith('text/event-stream');
    const ev = await r.waitEvents(3);
    expect(ev.map((e) => e.id)).toEqual(['1', '2', '3']);
    expect(ev.every((e) => e.event === 'round')).toBe(true);
    for (const e of ev) {
      const round = (await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds/${e.id}`)).body;
      expect(JSON.parse(e.data)).toEqual(round);
    }
  });

  test('with neither from nor Last-Event-ID it starts after the head, then streams new rounds; heartbeats flow', async () => {
    const r = await sse(`${s.url}/v1/subtrees/${coin}/events`);
    await r.waitComments(2); // "stream open" and at least one heartbeat
    expect(r.comments.filter((c) => c.includes('heartbeat')).length).toBeGreaterThanOrEqual(1);
    expect(r.events.length).toBe(0);
    await transferAndTick(); // round 4
    const ev = await r.waitEvents(1);
    expect(ev[0]!.id).toBe('4');
    expect(JSON.parse(ev[0]!.data).header.height).toBe(4);
  });

  test('Last-Event-ID resumes after that round and wins over from', async () => {
    const r = await sse(`${s.url}/v1/subtrees/${coin}/events?from=0`, { 'last-event-id': '2' });
    const ev = await r.waitEvents(2);
    expect(ev[0]!.id).toBe('3');
    expect(ev[1]!.id).toBe('4');
  });

  test('from=0 includes the genesis round', async () => {
    const r = await sse(`${s.url}/v1/subtrees/${notes}/events?from=0`);
    const ev = await r.waitEvents(1);
    expect(ev[0]!.id).toBe('0');
    expect(JSON.parse(ev[0]!.data).header.prev).toBe('0'.repeat(64));
  });

  test('a second instance on the same database streams rounds the first commits', async () => {
    const r = await sse(`${second.url}/v1/subtrees/${coin}/events`);
    await r.waitComments(1);
    const before = (await call(s.url, 'GET', `/v1/subtrees/${coin}`)).body.height as number;
    await transferAndTick();
    const ev = await r.waitEvents(1);
    expect(ev[0]!.id).toBe(String(before + 1));
  });

  test('bad input: unknown subtree 404, bad from / Last-Event-ID 400, all problem+json', async () => {
    const unknown = await call(s.url, 'GET', `/v1/subtrees/${'ab'.repeat(32)}/events`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('unknown_subtree');
    const badFrom = await call(s.url, 'GET', `/v1/subtrees/${coin}/events?from=-1`);
    expect(badFrom.status).toBe(400);
    expect(badFrom.type).toBe('application/problem+json');
    const badId = await call(s.url, 'GET', `/v1/subtrees/${coin}/events`, { headers: { 'last-event-id': 'x:1' } });
    expect(badId.status).toBe(400);
    expect(badId.body.code).toBe('validation_failed');
  });
});

describe('GET /v1/events (node-wide)', () => {
  test('ids are <subtree>:<height>; from covers every subtree, genesis included, in commit order', async () => {
    const r = await sse(`${s.url}/v1/events?from=0`);
    const head = (await call(s.url, 'GET', `/v1/subtrees/${coin}`)).body.height as number;
    const ev = await r.waitEvents(head + 2);
    const ids = ev.map((e) => e.id);
    expect(ids[0]).toBe(`${coin}:0`);
    expect(ids).toContain(`${notes}:0`);
    const coinIds = ids.filter((i) => i!.startsWith(coin)).map((i) => Number(i!.split(':')[1]));
    expect(coinIds).toEqual([...Array(head + 1).keys()]);
    const last = ev.find((e) => e.id === `${coin}:${head}`)!;
    expect(JSON.parse(last.data)).toEqual((await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds/${head}`)).body);
  });

  test('Last-Event-ID resumes after that round; no start point means only new rounds', async () => {
    const resumed = await sse(`${s.url}/v1/events`, { 'last-event-id': `${coin}:3` });
    const live = await sse(`${s.url}/v1/events`);
    await live.waitComments(1);
    const head = (await call(s.url, 'GET', `/v1/subtrees/${coin}`)).body.height as number;
    const ev = await resumed.waitEvents(head - 3);
    expect(ev[0]!.id).toBe(`${coin}:4`);
    expect(live.events.length).toBe(0);
    await transferAndTick();
    const next = await live.waitEvents(1);
    expect(next[0]!.id).toBe(`${coin}:${head + 1}`);
    const unknown = await call(s.url, 'GET', '/v1/events', { headers: { 'last-event-id': `${coin}:999` } });
    expect(unknown.status).toBe(404);
  });
});
