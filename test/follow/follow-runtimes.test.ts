import { afterAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { DstpClient, fetchVerifiedState, generateKey } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { ADMIN_TOKEN, cleanupAll, createTokenSubtree, http, NETWORK, tempDir, transfer } from '../reliability/harness.ts';
import { launch, requireOrSkip, stopAll, type RuntimeName } from '../runtime/runtimes.ts';
import { startNode, until } from './helpers.ts';

/**
 * The follower under Node and Deno (the Bun follower is in follow.test.ts): it follows a subtree
 * of a Bun origin, forwards a transaction, reaches the origin's root, and its answers verify.
 */
afterAll(async () => {
  await stopAll();
  await cleanupAll();
});

for (const runtime of ['node', 'deno'] as RuntimeName[]) {
  test(`a follower under ${runtime}`, async () => {
    if (!requireOrSkip(runtime)) return;
    const A = await startNode(`rt-a-${runtime}`);
    const C = await launch(runtime, {
      env: {
        HOST: '127.0.0.1',
        DSTP_DATABASE_URL: `file:${join(tempDir(`dstp-follow-rt-${runtime}-`), 'c.db')}`,
        DSTP_NETWORK: NETWORK,
        DSTP_NODE_KEY: toHex(crypto.getRandomValues(new Uint8Array(32))),
        DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
        DSTP_LOG: 'error',
        DSTP_OTS_CALENDARS: 'none',
        DSTP_PEER_ALLOW_PRIVATE: 'true',
        DSTP_FOLLOW_INTERVAL_MS: '100',
      },
    });
    const owner = generateKey();
    const bob = generateKey();
    const coin = await createTokenSubtree(A.url, { owner, authority: A.publicKey, name: `rt-${runtime}`, balances: { [owner.publicKey]: 50n } });
    expect((await http(C.url, 'POST', '/v1/follows', { json: { origin: A.url, subtree: coin.id }, admin: true })).status).toBe(201);
    const t = transfer(coin.id, owner, 0, bob.publicKey, '5');
    const fwd = await http(C.url, 'POST', '/v1/transactions', { json: t.envelope });
    expect(fwd.status).toBe(202);
    expect(fwd.body.accept.tx).toBe(t.id);
    const done = await until('executed on A', async () => {
      const r = await http(A.url, 'GET', `/v1/transactions/${t.id}`);
      return r.body.status === 'executed' ? r.body : undefined;
    });
    await until(`${runtime} follower caught up`, async () => {
      const f = await http(C.url, 'GET', `/v1/follows/${coin.id}`);
      return f.body.height >= done.height && f.body.status === 'following' ? true : undefined;
    }, 20_000);
    expect((await http(C.url, 'GET', `/v1/subtrees/${coin.id}`)).body.root).toBe((await http(A.url, 'GET', `/v1/subtrees/${coin.id}`)).body.root);
    const v = await fetchVerifiedState(new DstpClient({ baseUrl: C.url }), coin.id, `balance/${bob.publicKey}`, { expectedValue: '5' });
    expect(v.verified.signers).toEqual([A.publicKey]);
    await C.stop();
  }, 90_000);
}
