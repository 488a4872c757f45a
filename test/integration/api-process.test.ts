import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { adminHeader, call, party, signedTx, startServerProcess, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * The node as `npm start` runs it (bun src/runtime/bun.ts in a child process, its own scheduler):
 * the seed scenario of SPEC §7 end to end over HTTP, with rounds made by the in-process scheduler.
 */
let s: TestServer;
const alice = party('api-proc-alice');
const bob = party('api-proc-bob');

beforeAll(async () => {
  s = await startServerProcess({ roundIntervalMs: 20 });
});

afterAll(async () => {
  await s?.close();
});

async function until<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await Bun.sleep(20);
  }
}

describe('child process node', () => {
  test('info, then Alice 10 / Bob 1, transfer 2, the scheduler finalizes: Alice 8, Bob 3', async () => {
    const info = await call(s.url, 'GET', '/v1/info');
    expect(info.status).toBe(200);
    expect(info.body.publicKey).toBe(s.nodeKey);

    const req = subtreeRequest({
      network: s.network,
      owner: alice,
      name: 'seed',
      program: 'token',
      config: { symbol: 'SD', decimals: 0, minter: alice.key },
      authority: s.nodeKey,
      genesis: [
        { key: `balance/${alice.key}`, value: '10' },
        { key: `balance/${bob.key}`, value: '1' },
        { key: 'supply', value: '11' },
      ],
    });
    const created = await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() });
    expect(created.status).toBe(201);
    // The same signed request again is idempotent.
    const again = await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(req.id);

    const env = signedTx(alice, { network: s.network, subtree: req.id, nonce: 0, call: 'transfer', args: { to: bob.key, amount: '2' } });
    const sent = await call(s.url, 'POST', '/v1/transactions', { json: env });
    expect(sent.status).toBe(202);
    const repeat = await call(s.url, 'POST', '/v1/transactions', { json: env });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(sent.body);

    const done = await until(async () => {
      const t = await call(s.url, 'GET', `/v1/transactions/${sent.body.id}`);
      return t.body.status === 'pending' ? undefined : t.body;
    });
    expect(done.status).toBe('executed');

    for (const [who, amount] of [
      [alice, '8'],
      [bob, '3'],
    ] as const) {
      const r = await call(s.url, 'GET', `/v1/subtrees/${req.id}/state/balance/${who.key}`);
      expect(r.status).toBe(200);
      expect(r.body.value).toBe(amount);
      expect(r.body.height).toBe(done.height);
      verifyProof(r.body.proof, { key: `balance/${who.key}`, value: amount, root: r.body.root });
    }
  });

  test('bad input to the child process is a problem+json too', async () => {
    const r = await call(s.url, 'POST', '/v1/transactions', { raw: 'nope', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.type).toBe('application/problem+json');
    expect(r.body.code).toBe('malformed_json');
  });
});
