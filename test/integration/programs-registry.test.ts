/**
 * Programs come from the registry given to `createNode` (SPEC §7): a real node on 127.0.0.1 with
 * a registry of `kv` and a small test program runs that program through accept, a round and a
 * proven state read, lists exactly those programs in /v1/info, and refuses a subtree that names a
 * program outside its registry (here the native `token`) with `unknown_program`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { fail } from '../../src/core/errors.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { programRegistry } from '../../src/core/programs/registry.ts';
import { kv } from '../../src/core/programs/kv.ts';
import type { Program } from '../../src/core/programs/types.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/** A counter: `add {n}` adds a small integer to `count`. Implements the one Program interface. */
const counter: Program<{ max: number }> = {
  name: 'counter',
  calls: ['add'],
  parseConfig(config) {
    const max = (config as { max?: unknown } | null)?.max;
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) fail('invalid_config', 'config.max must be a positive integer');
    return { max };
  },
  checkGenesis() {},
  checkCall(_config, call, args) {
    if (call !== 'add') fail('unknown_call', `unknown call "${call}"`);
    if (!Number.isSafeInteger(args.n)) fail('invalid_args', 'add.args.n must be an integer');
  },
  reads: () => ['count'],
  apply(config, state, tx) {
    const next = ((state.get('count') as number | undefined) ?? 0) + (tx.args.n as number);
    if (next > config.max) return { ok: false, code: 'over_max' };
    return { ok: true, writes: new Map<string, JsonValue | null>([['count', next]]) };
  },
};

let s: TestServer;
const owner = party('registry-owner');

beforeAll(async () => {
  s = await startServer({ programs: programRegistry([kv, counter as Program]) });
});
afterAll(async () => {
  await s?.close();
});

describe('a node runs the programs of its registry', () => {
  test('/v1/info lists exactly the registry', async () => {
    const info = await call(s.url, 'GET', '/v1/info');
    expect(info.status).toBe(200);
    expect(info.body.programs).toEqual(['counter', 'kv']);
  });

  test('a program outside the registry is refused; its id is still computed without any program code', async () => {
    const req = subtreeRequest({ network: s.network, owner, name: 'coin', program: 'token', config: { symbol: 'C', decimals: 0, minter: owner.key }, authority: s.nodeKey });
    const r = await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() });
    expect(r.status).toBe(400);
    expect(r.type).toBe('application/problem+json');
    expect(r.body.code).toBe('unknown_program');
    // A client's structural parse (no registry) takes it as it is.
    expect(parseSubtreeRequest(req.body, null).subtree.program).toBe('token');
    expect((await call(s.url, 'GET', `/v1/subtrees/${req.id}`)).status).toBe(404);
  });

  test('a subtree of the registry program accepts, executes and proves its writes', async () => {
    const req = subtreeRequest({ network: s.network, owner, name: 'tally', program: 'counter', config: { max: 10 }, authority: s.nodeKey });
    const created = await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() });
    expect(created.status).toBe(201);
    const txs = [3, 9].map((n, nonce) => signedTx(owner, { network: s.network, subtree: req.id, nonce, call: 'add', args: { n } }));
    const ids: string[] = [];
    for (const env of txs) {
      const r = await call(s.url, 'POST', '/v1/transactions', { json: env });
      expect(r.status).toBe(202);
      ids.push(r.body.accept.tx);
    }
    const bad = await call(s.url, 'POST', '/v1/transactions', { json: signedTx(owner, { network: s.network, subtree: req.id, nonce: 2, call: 'sub', args: {} }) });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('unknown_call');
    expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);

    const state = await call(s.url, 'GET', `/v1/subtrees/${req.id}/state/count`);
    expect(state.status).toBe(200);
    expect(state.body.value).toBe(3); // the second add would pass max: it failed with the program's code
    verifyProof(state.body.proof, { key: 'count', root: state.body.proof.root, value: 3 });
    const receipts = await Promise.all(ids.map(async (id) => (await call(s.url, 'GET', `/v1/transactions/${id}`)).body.receipt));
    expect(receipts.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual(['ok', 'over_max']);
  });
});
