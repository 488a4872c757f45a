import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { digest } from '../../src/core/digest.ts';
import { toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { subtreeId } from '../../src/core/subtree-request.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * Follow management over real in-process nodes (Bun.serve, libSQL files): admin only for changes,
 * problem+json with stable codes for every bad request, never a 5xx for bad input and never a
 * state change; DELETE drops the replica and following again starts over.
 */
let A: TestServer;
let C: TestServer;
let strict: TestServer;
let other: TestServer;
const alice = party('follows-api-alice');
let coin: string;
let own: string;
const allowPrivate = { DSTP_PEER_ALLOW_PRIVATE: 'true', DSTP_FOLLOW_INTERVAL_MS: '50', DSTP_PEER_TIMEOUT_MS: '1000' };

beforeAll(async () => {
  [A, C, strict, other] = await Promise.all([
    startServer({ scheduler: true }),
    startServer({ scheduler: true, env: allowPrivate }),
    startServer({ scheduler: true }),
    startServer({ scheduler: true, network: 'other-net', env: allowPrivate }),
  ]);
  const c = subtreeRequest({ network: A.network, owner: alice, name: 'coin', program: 'token', config: { symbol: 'F', decimals: 0, minter: alice.key }, authority: A.nodeKey, genesis: [{ key: `balance/${alice.key}`, value: '5' }, { key: 'supply', value: '5' }] });
  coin = c.id;
  expect((await call(A.url, 'POST', '/v1/subtrees', { json: c.body, headers: adminHeader() })).status).toBe(201);
  const o = subtreeRequest({ network: C.network, owner: alice, name: 'mine', program: 'kv', config: { writers: 'any' }, authority: C.nodeKey });
  own = o.id;
  expect((await call(C.url, 'POST', '/v1/subtrees', { json: o.body, headers: adminHeader() })).status).toBe(201);
});

afterAll(async () => {
  await Promise.all([A, C, strict, other].map((s) => s?.close()));
});

const post = (s: TestServer, json: unknown, headers: Record<string, string> = adminHeader()) => call(s.url, 'POST', '/v1/follows', { json, headers });

describe('bad input on follow management', () => {
  test('changes need the admin token (401), reads are public', async () => {
    expect((await post(C, { origin: A.url, subtree: coin }, {})).status).toBe(401);
    expect((await post(C, { origin: A.url, subtree: coin }, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await call(C.url, 'DELETE', `/v1/follows/${coin}`)).status).toBe(401);
    expect((await call(C.url, 'GET', '/v1/follows')).status).toBe(200);
  });

  test('stable codes, problem+json, no 5xx for bad input, nothing written', async () => {
    const cases: [unknown, number, string][] = [
      [{ origin: A.url }, 400, 'validation_failed'],
      [{ origin: A.url, subtree: coin, extra: 1 }, 400, 'validation_failed'],
      [{ origin: A.url, subtree: 'XYZ' }, 400, 'validation_failed'],
      [{ origin: 'ftp://example.org', subtree: coin }, 400, 'peer_not_allowed'],
      [{ origin: 'not a url', subtree: coin }, 400, 'peer_not_allowed'],
      [{ origin: A.url, subtree: coin, verify: 'light' }, 400, 'validation_failed'],
      [{ origin: A.url, subtree: 'ab'.repeat(32) }, 404, 'unknown_subtree'],
      [{ origin: A.url, subtree: own }, 409, 'subtree_hosted'],
      [{ origin: C.url, subtree: own }, 409, 'subtree_hosted'],
    ];
    for (const [json, status, code] of cases) {
      const r = await post(C, json);
      expect({ json, status: r.status, code: r.body?.code, type: r.type }).toEqual({ json, status, code, type: 'application/problem+json' });
    }
    const raw = await call(C.url, 'POST', '/v1/follows', { raw: 'origin=x', headers: { ...adminHeader(), 'content-type': 'text/plain' } });
    expect(raw.status).toBe(415);
    // A loopback origin without DSTP_PEER_ALLOW_PRIVATE.
    const priv = await post(strict, { origin: A.url, subtree: coin });
    expect([priv.status, priv.body.code]).toEqual([400, 'peer_not_allowed']);
    // Another network.
    const net = await post(other, { origin: A.url, subtree: coin });
    expect([net.status, net.body.code]).toEqual([400, 'network_mismatch']);
    for (const s of [C, strict, other]) expect((await call(s.url, 'GET', '/v1/follows')).body.items).toEqual([]);
    expect((await call(C.url, 'GET', `/v1/follows/${coin}`)).body.code).toBe('unknown_follow');
    expect((await call(C.url, 'GET', '/v1/follows/nope')).status).toBe(400);
    expect((await call(C.url, 'DELETE', `/v1/follows/${coin}`, { headers: adminHeader() })).body.code).toBe('unknown_follow');
  });

  test('an origin that does not answer: 503 origin_unreachable, nothing written', async () => {
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
    const url = `http://127.0.0.1:${closed.port}`;
    await closed.stop(true);
    const r = await post(C, { origin: url, subtree: coin });
    expect([r.status, r.body.code]).toEqual([503, 'origin_unreachable']);
    const garbage = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => Response.json({ network: 1 }) });
    const g = await post(C, { origin: `http://127.0.0.1:${garbage.port}`, subtree: coin });
    garbage.stop(true);
    expect([g.status, g.body.code]).toEqual([502, 'origin_bad_answer']);
    expect((await call(C.url, 'GET', '/v1/follows')).body.items).toEqual([]);
  });
});

describe('creating a subtree under a followed parent', () => {
  test('is forwarded to the origin; its head comes back, its refusal as 502 origin_bad_answer', async () => {
    expect((await post(C, { origin: A.url, subtree: coin })).status).toBeOneOf([200, 201]);
    const child = subtreeRequest({ network: A.network, owner: alice, name: 'child', program: 'kv', config: { writers: 'any' }, authority: alice.key });
    const body = { ...child.body, subtree: { ...child.body.subtree, parent: coin } };
    body.sigs = [{ signer: alice.key, sig: toHex(signDigest(alice.scheme, alice.secret, digest('subtree', body.subtree))) }];
    const id = toHex(subtreeId(body.subtree));
    const r = await call(C.url, 'POST', '/v1/subtrees', { json: body });
    expect([r.status, r.body.id]).toEqual([201, id]);
    expect((await call(A.url, 'GET', `/v1/subtrees/${id}`)).body.parent).toBe(coin);
    // A child whose authority is A's key needs A's admin token there: A's 403 rides along a 502.
    const needsA = { ...body, subtree: { ...body.subtree, name: 'child2', mode: { type: 'poa', authority: A.nodeKey } } };
    needsA.sigs = [{ signer: alice.key, sig: toHex(signDigest(alice.scheme, alice.secret, digest('subtree', needsA.subtree))) }];
    const refused = await call(C.url, 'POST', '/v1/subtrees', { json: needsA, headers: adminHeader() });
    expect([refused.status, refused.body.code, refused.body.originStatus, refused.body.originProblem.code]).toEqual([502, 'origin_bad_answer', 403, 'forbidden']);
    expect((await call(C.url, 'DELETE', `/v1/follows/${coin}`, { headers: adminHeader() })).status).toBe(204);
  });
});

describe('DELETE /v1/follows/:subtree', () => {
  test('drops the replica; following again starts over and catches up', async () => {
    expect((await post(C, { origin: A.url, subtree: coin })).status).toBe(201);
    const tx = signedTx(alice, { network: A.network, subtree: coin, nonce: 0, call: 'burn', args: { amount: '1' } });
    const burn = await call(C.url, 'POST', '/v1/transactions', { json: tx });
    expect(burn.status).toBe(202);
    const wait = async (h: number) => {
      for (let i = 0; i < 400; i++) {
        const f = await call(C.url, 'GET', `/v1/follows/${coin}`);
        if (f.body.height >= h && f.body.status === 'following') return f.body;
        await Bun.sleep(25);
      }
      throw new Error('follow did not catch up');
    };
    // The burn's round on A (a child created earlier added a node call round before it).
    let burnHeight = -1;
    for (let i = 0; i < 400 && burnHeight < 0; i++) {
      const t = await call(A.url, 'GET', `/v1/transactions/${burn.body.id}`);
      if (t.body.status === 'executed') burnHeight = t.body.height;
      else await Bun.sleep(25);
    }
    await wait(burnHeight);
    expect((await call(C.url, 'GET', `/v1/subtrees/${coin}/state/supply`)).body.value).toBe('4');
    expect((await call(C.url, 'DELETE', `/v1/follows/${coin}`, { headers: adminHeader() })).status).toBe(204);
    expect((await call(C.url, 'GET', `/v1/subtrees/${coin}`)).body.code).toBe('unknown_subtree');
    expect((await call(C.url, 'GET', `/v1/subtrees/${coin}/rounds/1`)).status).toBe(404);
    expect((await call(C.url, 'GET', `/v1/subtrees/${coin}/log`)).status).toBe(404);
    // A transaction for a dropped replica is not forwarded any more.
    const late = signedTx(alice, { network: A.network, subtree: coin, nonce: 1, call: 'burn', args: { amount: '1' } });
    expect((await call(C.url, 'POST', '/v1/transactions', { json: late })).body.code).toBe('unknown_subtree');
    expect((await post(C, { origin: A.url, subtree: coin })).status).toBe(201);
    const again = await wait(burnHeight);
    expect(again.verifiedFrom).toBe(0);
    expect((await call(C.url, 'GET', `/v1/subtrees/${coin}`)).body.root).toBe((await call(A.url, 'GET', `/v1/subtrees/${coin}`)).body.root);
  });
});
