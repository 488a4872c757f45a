/**
 * One source of truth for the wire: every response a real node gives on its main routes must be
 * one the OpenAPI document it serves (`/openapi.json`) declares — the status, the content type
 * and, for JSON, the body against the declared schema (JSON Schema 2020-12, as OpenAPI 3.1 has
 * it, checked with Ajv). A route that answers with an undocumented status or shape fails here.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { adminHeader, call, party, seedTokenRequest, signedTx, startServer, type Res, type TestServer } from '../helpers/server.ts';

const BASE = 'https://dstp.invalid/openapi.json';
let s: TestServer;
let doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>; components: object };
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
const checked = new Set<string>();
const validators = new Map<string, ValidateFunction>();

const alice = party('openapi-alice');
const bob = party('openapi-bob');
let coin = '';
let tx1 = '';

/** Asserts `res` is a response the document declares for `method path` (path as templated there). */
function conforms(method: string, path: string, res: Res): void {
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} is not in /openapi.json`).toBeDefined();
  const declared = op!.responses[String(res.status)];
  expect(declared, `${method} ${path} answered ${res.status}, which /openapi.json does not declare: ${res.text.slice(0, 300)}`).toBeDefined();
  const media = declared!.content?.[res.type];
  expect(media, `${method} ${path} ${res.status} answered ${res.type}; declared: ${Object.keys(declared!.content ?? {}).join(', ')}`).toBeDefined();
  if (media!.schema !== undefined && res.type.endsWith('json')) {
    const at = `${method} ${path} ${res.status} ${res.type}`;
    let validate = validators.get(at);
    if (validate === undefined) {
      // The schema's `#/components/…` references resolve against a root that carries the components.
      validate = ajv.compile({ $id: `${BASE}/${validators.size}`, components: doc.components, allOf: [media!.schema] });
      validators.set(at, validate);
    }
    const ok = validate(res.body);
    expect(ok ? [] : validate.errors, `${method} ${path} ${res.status} body does not match its schema: ${res.text.slice(0, 300)}`).toEqual([]);
  }
  checked.add(`${method} ${path} ${res.status}`);
}

async function live(method: string, template: string, path: string, opts: Parameters<typeof call>[3] = {}): Promise<Res> {
  const res = await call(s.url, method, path, opts);
  conforms(method, template, res);
  return res;
}

beforeAll(async () => {
  s = await startServer({ env: { DSTP_WEBHOOK_ALLOW_PRIVATE: '1' } });
  doc = (await call(s.url, 'GET', '/openapi.json')).body;
});
afterAll(async () => {
  await s?.close();
});

describe('live responses match /openapi.json', () => {
  test('the check itself refuses a stray body, an undeclared status and an undeclared type', async () => {
    const info = await live('GET', '/v1/info', '/v1/info');
    expect(() => conforms('GET', '/v1/info', { ...info, body: { ...info.body, programs: 'kv' } })).toThrow('does not match its schema');
    expect(() => conforms('GET', '/v1/info', { ...info, status: 418 })).toThrow('does not declare');
    expect(() => conforms('GET', '/v1/info', { ...info, type: 'text/html' })).toThrow('declared: application/json');
  });

  test('info and subtrees: create (201, then 200 for the same request), list, head, bad input', async () => {
    const c = seedTokenRequest(s, alice, bob);
    coin = c.id;
    expect((await live('POST', '/v1/subtrees', '/v1/subtrees', { json: c.body, headers: adminHeader() })).status).toBe(201);
    expect((await live('POST', '/v1/subtrees', '/v1/subtrees', { json: c.body, headers: adminHeader() })).status).toBe(200);
    expect((await live('POST', '/v1/subtrees', '/v1/subtrees', { json: { subtree: {}, sigs: [] }, headers: adminHeader() })).status).toBe(400);
    expect((await live('POST', '/v1/subtrees', '/v1/subtrees', { raw: 'x', headers: { ...adminHeader(), 'content-type': 'text/plain' } })).status).toBe(415);
    await live('GET', '/v1/subtrees', '/v1/subtrees');
    await live('GET', '/v1/subtrees/{id}', `/v1/subtrees/${coin}`);
    expect((await live('GET', '/v1/subtrees/{id}', `/v1/subtrees/${'ab'.repeat(32)}`)).status).toBe(404);
    expect((await live('GET', '/v1/subtrees/{id}', '/v1/subtrees/not-hex')).status).toBe(400);
  });

  test('transactions: accept (202), repeat (200), batch, status pending, bad input', async () => {
    const env = signedTx(alice, { network: s.network, subtree: coin, nonce: 0, call: 'transfer', args: { to: bob.key, amount: '2' } });
    const first = await live('POST', '/v1/transactions', '/v1/transactions', { json: env });
    expect(first.status).toBe(202);
    tx1 = first.body.id;
    expect((await live('POST', '/v1/transactions', '/v1/transactions', { json: env })).status).toBe(200);
    const wrongNonce = signedTx(alice, { network: s.network, subtree: coin, nonce: 9, call: 'transfer', args: { to: bob.key, amount: '1' } });
    expect((await live('POST', '/v1/transactions', '/v1/transactions', { json: wrongNonce })).status).toBeGreaterThanOrEqual(400);
    expect((await live('POST', '/v1/transactions', '/v1/transactions', { json: { tx: 1 } })).status).toBe(400);
    const batch = [1, 2].map((nonce) => signedTx(alice, { network: s.network, subtree: coin, nonce, call: 'transfer', args: { to: bob.key, amount: '1' } }));
    expect((await live('POST', '/v1/transactions/batch', '/v1/transactions/batch', { json: { txs: batch } })).status).toBe(202);
    expect((await live('GET', '/v1/transactions/{id}', `/v1/transactions/${tx1}`)).body.status).toBe('pending');
    expect((await live('GET', '/v1/transactions/{id}', `/v1/transactions/${'cd'.repeat(32)}`)).status).toBe(404);
  });

  test('after a round: executed transaction, rounds, state with proof, log, proposals', async () => {
    expect((await live('POST', '/v1/leader/tick', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
    expect((await live('GET', '/v1/transactions/{id}', `/v1/transactions/${tx1}`)).body.status).toBe('executed');
    await live('GET', '/v1/subtrees/{id}/rounds', `/v1/subtrees/${coin}/rounds`);
    await live('GET', '/v1/subtrees/{id}/rounds', `/v1/subtrees/${coin}/rounds?order=desc&limit=1`);
    await live('GET', '/v1/subtrees/{id}/rounds/{height}', `/v1/subtrees/${coin}/rounds/1`);
    expect((await live('GET', '/v1/subtrees/{id}/rounds/{height}', `/v1/subtrees/${coin}/rounds/99`)).status).toBe(404);
    const key = encodeURIComponent(`balance/${bob.key}`);
    expect((await live('GET', '/v1/subtrees/{id}/state/{key}', `/v1/subtrees/${coin}/state/${key}`)).body.value).toBe('5');
    await live('GET', '/v1/subtrees/{id}/state/{key}', `/v1/subtrees/${coin}/state/${key}?height=0`);
    await live('GET', '/v1/subtrees/{id}/state/{key}', `/v1/subtrees/${coin}/state/absent`);
    expect((await live('GET', '/v1/subtrees/{id}/state/{key}', `/v1/subtrees/${coin}/state/${key}?height=-1`)).status).toBe(400);
    await live('GET', '/v1/subtrees/{id}/log', `/v1/subtrees/${coin}/log`);
    await live('GET', '/v1/subtrees/{id}/proposals', `/v1/subtrees/${coin}/proposals`);
  });

  test('checkpoints and the proof chain', async () => {
    expect((await live('POST', '/v1/checkpoints', '/v1/checkpoints', { headers: adminHeader() })).status).toBe(200);
    await live('GET', '/v1/checkpoints/latest', '/v1/checkpoints/latest');
    await live('GET', '/v1/checkpoints/latest', '/v1/checkpoints/latest', { headers: { accept: 'text/plain' } });
    await live('GET', '/v1/checkpoints/{seq}', '/v1/checkpoints/0');
    await live('GET', '/v1/checkpoints/{seq}/inclusion', '/v1/checkpoints/0/inclusion');
    await live('GET', '/v1/checkpoints/consistency', '/v1/checkpoints/consistency?from=1');
    await live('GET', '/v1/subtrees/{id}/global-proof', `/v1/subtrees/${coin}/global-proof`);
    await live('GET', '/v1/subtrees/{id}/chain/{key}', `/v1/subtrees/${coin}/chain/${encodeURIComponent(`balance/${bob.key}`)}`);
  });

  test('webhooks: subscribe, list, read, refuse without the admin token', async () => {
    const created = await live('POST', '/v1/webhooks', '/v1/webhooks', { json: { url: 'http://127.0.0.1:9/hook', events: ['tx.executed'] }, headers: adminHeader() });
    expect(created.status).toBe(201);
    await live('GET', '/v1/webhooks', '/v1/webhooks', { headers: adminHeader() });
    await live('GET', '/v1/webhooks/{id}', `/v1/webhooks/${created.body.id}`, { headers: adminHeader() });
    await live('GET', '/v1/webhooks/{id}/deliveries', `/v1/webhooks/${created.body.id}/deliveries`, { headers: adminHeader() });
    expect((await live('GET', '/v1/webhooks', '/v1/webhooks')).status).toBe(401);
  });

  test('every main route was checked', () => {
    const routes = new Set([...checked].map((c) => c.split(' ').slice(0, 2).join(' ')));
    for (const r of [
      'GET /v1/info',
      'POST /v1/subtrees',
      'GET /v1/subtrees',
      'GET /v1/subtrees/{id}',
      'POST /v1/transactions',
      'POST /v1/transactions/batch',
      'GET /v1/transactions/{id}',
      'GET /v1/subtrees/{id}/state/{key}',
      'GET /v1/subtrees/{id}/rounds',
      'GET /v1/subtrees/{id}/rounds/{height}',
      'GET /v1/subtrees/{id}/log',
      'GET /v1/subtrees/{id}/chain/{key}',
      'GET /v1/checkpoints/latest',
    ]) {
      expect(routes.has(r), r).toBe(true);
    }
    expect(checked.size).toBeGreaterThan(30);
  });
});
