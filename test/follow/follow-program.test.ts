import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, tokenGenesis } from '../../src/client/index.ts';
import { cleanupAll, http, NETWORK, REPO_ROOT, transfer } from '../reliability/harness.ts';
import { caughtUp, follow, headOf, startNode, until, type TestNode } from './helpers.ts';

/**
 * Following a subtree that runs a user program (SPEC §7.1, §12), with real node processes: C
 * fetches the program from A (`GET /v1/programs/:id`), checks the id against engine and source,
 * re-executes every round in its own sandbox (same roots, same receipts with gas), serves the
 * program, and forwards transactions to A. An origin that serves another source for the id the
 * signed creation request names is refused, and nothing is stored.
 */
let A: TestNode;
let C: TestNode;
let proxy: ReturnType<typeof Bun.serve>;
const owner = generateKey();
const bob = generateKey();
const source = (name: string) => readFileSync(join(REPO_ROOT, 'examples', 'programs', name), 'utf8');

async function userSubtree(base: string, file: string, name: string, config: unknown, genesis: { key: string; value: unknown }[]) {
  const up = await http(base, 'POST', '/v1/programs', { json: { source: source(file) }, admin: true });
  expect(up.status).toBe(201);
  const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name, program: `js:${up.body.id}`, config: config as never, mode: { type: 'poa', authority: A.publicKey }, genesis: genesis as never }, null);
  const created = await http(base, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner]), admin: true });
  expect(created.status).toBe(201);
  return { id: created.body.id as string, program: up.body.id as string };
}

const executed = (base: string, id: string) =>
  until(`tx ${id.slice(0, 8)} executed`, async () => {
    const r = await http(base, 'GET', `/v1/transactions/${id}`);
    return r.status === 200 && r.body.status !== 'pending' ? r.body : undefined;
  });

beforeAll(async () => {
  [A, C] = await Promise.all([startNode('prog-a'), startNode('prog-c')]);
  // A proxy in front of A that serves another source for every program id.
  proxy = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const u = new URL(req.url);
      const res = await fetch(A.url + u.pathname + u.search, { method: req.method, headers: req.headers, ...(req.method === 'GET' ? {} : { body: await req.text() }) });
      if (!u.pathname.startsWith('/v1/programs/')) return res;
      const body = (await res.json()) as { source: string };
      return Response.json({ ...body, source: body.source + '\n// altered\n' });
    },
  });
}, 60_000);

afterAll(async () => {
  proxy?.stop(true);
  await cleanupAll();
});

describe('a follower of a user-program subtree', () => {
  test('fetches and checks the program, replays its rounds to the same roots and gas, serves it, forwards to the origin', async () => {
    const coin = await userSubtree(A.url, 'token.js', 'js-coin', { symbol: 'JS', decimals: 0, minter: owner.publicKey }, tokenGenesis({ [owner.publicKey]: 100n }));
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      const t = transfer(coin.id, owner, n, bob.publicKey, String(n + 1));
      expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
      await executed(A.url, t.id);
      ids.push(t.id);
    }
    // Two spends that each fit Bob's 6, in one batch, are admitted; the second fails in execution: its receipt
    // has the program's code and gas too.
    const spend = transfer(coin.id, bob, 0, owner.publicKey, '4');
    const over = transfer(coin.id, bob, 1, owner.publicKey, '4');
    const batch = await http(A.url, 'POST', '/v1/transactions/batch', { json: { txs: [spend.envelope, over.envelope] } });
    expect(batch.body.items.map((x: { status: number }) => x.status)).toEqual([202, 202]);
    expect((await executed(A.url, over.id)).status).toBe('failed');
    ids.push(spend.id, over.id);

    expect((await http(C.url, 'GET', `/v1/programs/${coin.program}`)).status).toBe(404);
    const f = await follow(C, A.url, coin.id);
    expect(f.status).toBe(201);
    const a = await headOf(A, coin.id);
    await caughtUp(C, coin.id, a.height);
    const c = await headOf(C, coin.id);
    expect([c.height, c.root, c.program]).toEqual([a.height, a.root, a.program]);
    for (const id of ids) {
      const [ra, rc] = await Promise.all([http(A.url, 'GET', `/v1/transactions/${id}`), http(C.url, 'GET', `/v1/transactions/${id}`)]);
      expect(rc.body.receipt).toEqual(ra.body.receipt);
      expect(rc.body.receipt.gas).toBeGreaterThan(0);
    }
    expect((await http(C.url, 'GET', `/v1/transactions/${over.id}`)).body.receipt.code).toBe('insufficient_balance');
    // C serves the program as A does.
    const served = await http(C.url, 'GET', `/v1/programs/${coin.program}`);
    expect(served.status).toBe(200);
    expect(served.body).toEqual((await http(A.url, 'GET', `/v1/programs/${coin.program}`)).body);

    // A transaction sent to C goes to A; C replays the round it lands in.
    const t = transfer(coin.id, owner, 3, bob.publicKey, '5');
    const r = await http(C.url, 'POST', '/v1/transactions', { json: t.envelope });
    expect(r.status).toBe(202);
    await executed(A.url, t.id);
    const a2 = await headOf(A, coin.id);
    await caughtUp(C, coin.id, a2.height);
    expect((await headOf(C, coin.id)).root).toBe(a2.root);
    expect((await http(C.url, 'GET', `/v1/subtrees/${coin.id}/state/balance/${bob.publicKey}`)).body.value).toBe('7');
  }, 60_000);

  test('an origin serving another source for the id is refused: 502 origin_bad_answer, no follow, no program stored', async () => {
    const counter = await userSubtree(A.url, 'counter.js', 'js-counter', { perSender: 3, maxStep: 2 }, []);
    const r = await follow(C, `http://127.0.0.1:${proxy.port}`, counter.id);
    expect(r.status).toBe(502);
    expect(r.body.code).toBe('origin_bad_answer');
    expect((await http(C.url, 'GET', `/v1/follows/${counter.id}`)).status).toBe(404);
    expect((await http(C.url, 'GET', `/v1/programs/${counter.program}`)).status).toBe(404);
    // The honest origin is followed.
    expect((await follow(C, A.url, counter.id)).status).toBe(201);
    expect((await http(C.url, 'GET', `/v1/programs/${counter.program}`)).status).toBe(200);
  }, 60_000);
});
