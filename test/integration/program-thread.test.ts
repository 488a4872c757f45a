/**
 * User programs' rounds run on the program thread (src/platform/sandbox/program-thread.ts), off
 * the thread that serves HTTP: a round of transactions that each run to the default gas limit
 * leaves the node answering reads while it executes. Same receipts as in-thread execution (the
 * follow and replay tests compare a node's rounds with in-thread re-execution).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { DEFAULT_GAS_LIMIT } from '../../src/platform/sandbox/engines.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s?.close();
});

describe('the program thread', () => {
  test('a round of out_of_gas transactions does not stall serving', async () => {
    expect(s.ctx!.programThread).toBeTruthy();
    const up = await call(s.url, 'POST', '/v1/programs', { json: { source: 'export default { reads() { return []; }, apply() { for (;;) {} } };' }, headers: adminHeader() });
    const owner = party('thread-owner');
    const r = subtreeRequest({ network: s.network, owner, name: 'spinner', program: `js:${up.body.id}`, config: {}, authority: s.nodeKey });
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() })).status).toBe(201);
    const N = 30;
    const txs = Array.from({ length: N }, (_, i) => signedTx(party(`thread-sender-${i}`), { network: s.network, subtree: r.id, nonce: 0, call: 'spin', args: {} }));
    const batch = await call(s.url, 'POST', '/v1/transactions/batch', { json: { txs } });
    expect(batch.body.items.every((i: { status: number }) => i.status === 202)).toBe(true);

    // While the round runs, ping the node: every answer must come quickly.
    let done = false;
    const t0 = performance.now();
    const tick = call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() }).then((x) => {
      done = true;
      return x;
    });
    const pings: number[] = [];
    while (!done) {
      const t = performance.now();
      expect((await call(s.url, 'GET', '/v1/info')).status).toBe(200);
      pings.push(performance.now() - t);
      await Bun.sleep(5);
    }
    expect((await tick).status).toBe(200);
    const roundMs = performance.now() - t0;
    const ids = batch.body.items.map((i: { accept: { tx: string } }) => i.accept.tx);
    for (const id of ids) {
      const v = (await call(s.url, 'GET', `/v1/transactions/${id}`)).body;
      expect(v.status).toBe('failed');
      expect(v.receipt).toMatchObject({ code: 'out_of_gas', gas: DEFAULT_GAS_LIMIT });
    }
    expect(s.ctx!.programThread!.stats.rounds).toBeGreaterThanOrEqual(1);
    const worst = Math.max(...pings);
    // 30 transactions at 10-50 ms each hold a thread for 0.3-1.5 s; serving never waited for it.
    console.log(`round ${roundMs.toFixed(0)} ms, ${pings.length} pings meanwhile, worst ${worst.toFixed(1)} ms`);
    expect(roundMs).toBeGreaterThan(250);
    expect(pings.length).toBeGreaterThan(5);
    expect(worst).toBeLessThan(roundMs / 3);
  }, 120_000);
});
