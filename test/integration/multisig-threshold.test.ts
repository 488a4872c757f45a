/**
 * SPEC §5 threshold rule: a multisig mode needs 2t − n ≥ 1, and ≥ 2 when the host node's key is a
 * signer. Creation and signer-set changes that break it are refused with `invalid_mode` saying
 * why; a subtree that breaks it already (here: the same database served by a node whose key is
 * one of the signers) keeps working and is flagged `unsafeThreshold`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config.ts';
import { digest } from '../../src/core/digest.ts';
import { toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { createNode } from '../../src/node.ts';
import { openDatabase } from '../../src/store/db.ts';
import { adminHeader, call, party, signedTx, startServer, type Party, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
const owner = party('thr-owner');
const keys = [1, 2, 3, 4].map((i) => party(`thr-signer-${i}`));

beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
});

function request(name: string, signers: string[], threshold: number, signWith: Party[]) {
  const subtree = {
    v: 1,
    network: srv.network,
    parent: ROOT_ID_HEX,
    owner: owner.key,
    name,
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'multisig', signers, threshold, proposalTimeoutMs: 5000 },
    genesis: [],
  };
  const d = digest('subtree', subtree);
  return { subtree, sigs: [owner, ...signWith].map((p) => ({ signer: p.key, sig: toHex(signDigest(p.scheme, p.secret, d)) })) };
}
const create = (body: unknown, admin = false) => call(srv.url, 'POST', '/v1/subtrees', { json: body, ...(admin ? { headers: adminHeader() } : {}) });

describe('multisig threshold rule (SPEC §5)', () => {
  test('2-of-4 is refused with invalid_mode saying why; 3-of-4 is created', async () => {
    const four = keys.map((k) => k.key);
    const bad = await create(request('two-of-four', four, 2, keys.slice(0, 2)));
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_mode']);
    expect(bad.body.detail).toContain('2t - n = 0');
    expect(bad.body.detail).toContain('at least 1');
    const before = (await call(srv.url, 'GET', '/v1/subtrees?limit=200')).body.items.length;
    const ok = await create(request('three-of-four', four, 3, keys.slice(0, 3)));
    expect(ok.status).toBe(201);
    expect(ok.body.unsafeThreshold).toBeUndefined();
    expect((await call(srv.url, 'GET', `/v1/subtrees/${ok.body.id}`)).body.unsafeThreshold).toBeUndefined();
    expect((await call(srv.url, 'GET', '/v1/subtrees?limit=200')).body.items.length).toBe(before + 1);
  });

  test('with the node key as a signer: 3-of-4 is created (2t − n = 2), 2-of-3 is refused', async () => {
    const three = [srv.nodeKey, keys[0]!.key, keys[1]!.key, keys[2]!.key];
    const ok = await create(request('node-three-of-four', three, 3, keys.slice(0, 2)), true);
    expect(ok.status).toBe(201);
    const bad = await create(request('node-two-of-three', [srv.nodeKey, keys[0]!.key, keys[1]!.key], 2, keys.slice(0, 1)), true);
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_mode']);
    expect(bad.body.detail).toContain("the node's own key");
    expect(bad.body.detail).toContain('at least 2');
  });

  test('a set_signers vote for an unsafe set is refused at accept time (invalid_mode); nothing is appended', async () => {
    const four = keys.map((k) => k.key);
    const created = await create(request('rotate-guard', four, 3, keys.slice(0, 3)));
    expect(created.status).toBe(201);
    const sub = created.body.id as string;
    const vote = (args: Record<string, unknown>, nonce = 0) =>
      call(srv.url, 'POST', '/v1/transactions', { json: signedTx(keys[0]!, { network: srv.network, subtree: sub, nonce, call: 'set_signers', args: args as never }) });
    const bad = await vote({ signers: four, threshold: 2 });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_mode']);
    const withNode = await vote({ signers: [srv.nodeKey, keys[0]!.key, keys[1]!.key], threshold: 2 });
    expect([withNode.status, withNode.body.code]).toEqual([400, 'invalid_mode']);
    expect(withNode.body.detail).toContain("the node's own key");
    expect((await call(srv.url, 'GET', `/v1/subtrees/${sub}`)).body.logSize).toBe(0);
    const good = await vote({ signers: four.slice(0, 3), threshold: 2 });
    expect(good.status).toBe(202);
  });

  test('an existing subtree that breaks the rule keeps working and is flagged unsafeThreshold', async () => {
    // 2-of-3 of outside keys is safe here; the same database served by a node whose key is one of
    // the signers makes it 2-of-3 with the node key (2t − n = 1 < 2).
    const signers = [keys[0]!, keys[1]!, keys[2]!];
    const created = await create(request('later-unsafe', signers.map((k) => k.key), 2, signers.slice(0, 2)));
    expect(created.status).toBe(201);
    const sub = created.body.id as string;
    expect((await call(srv.url, 'GET', `/v1/subtrees/${sub}`)).body.unsafeThreshold).toBeUndefined();

    const env = { DSTP_DATABASE_URL: srv.dbUrl, DSTP_NETWORK: srv.network, DSTP_OTS_CALENDARS: 'none', DSTP_LOG: 'error', DSTP_DATA_DIR: srv.dir };
    const db = await openDatabase({ url: srv.dbUrl });
    const other = await createNode(loadConfig(env), { db, nodeSecret: keys[0]!.secret, scheduler: false });
    try {
      const head = await other.app.request(`/v1/subtrees/${sub}`);
      expect(head.status).toBe(200);
      const body = (await head.json()) as Record<string, unknown>;
      expect(body.unsafeThreshold).toBe(true);
      expect(body.status).toBe('active');
      const tx = signedTx(keys[3]!, { network: srv.network, subtree: sub, nonce: 0, call: 'set', args: { key: 'k', value: 1 } });
      const accepted = await other.app.request('/v1/transactions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
      expect(accepted.status).toBe(202);
    } finally {
      await other.close();
    }
  });
});
