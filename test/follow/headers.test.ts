import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { buildSubtreeRequest, fetchChain, generateKey, signSubtreeRequest, signTransaction, verifyChainResponse, type KeyPair } from '../../src/client/index.ts';
import { REPO_ROOT } from '../helpers/server.ts';
import { cleanupAll, createTokenSubtree, http, NETWORK, openReader, tempDir, transfer, type TokenSubtree } from '../reliability/harness.ts';
import { cosignerReady, kvWriter, spawnCosigner, stopAllCosigners, type CosignProc } from '../reliability/cosign-harness.ts';
import { caughtUp, follow, headOf, smtRoot, startNode, until, type TestNode } from './helpers.ts';

/**
 * Light follows (SPEC §12, `verify: "headers"`) with real node processes: A hosts a PoA token
 * subtree and a 2-of-3 multisig kv subtree (real `dstp cosign` processes) whose signer set
 * changes mid-test; C follows both by their headers only. C serves their heads and rounds as A
 * does, keeps no state or log (those reads are `404 headers_only`), tracks the signer change
 * through `sys/consensus` proofs from A, marks their global-tree entries `"verify": "headers"`,
 * and its `…/chain/:key` (state proof fetched from A, checked against C's round) verifies with the
 * SDK. D follows the multisig subtree through a proxy that forges A's `sys/consensus` answers: it
 * believes none of them, so it applies no round — and halts for none (the answer is not signed).
 */
let A: TestNode;
let C: TestNode;
let D: TestNode;
let proxy: ReturnType<typeof Bun.serve>;
const alice = generateKey();
const bob = generateKey();
let coin: TokenSubtree;
let alicesNonce = 0;

afterAll(async () => {
  proxy?.stop(true);
  await stopAllCosigners();
  await cleanupAll();
});

beforeAll(async () => {
  [A, C, D] = await Promise.all([startNode('hd-a'), startNode('hd-c'), startNode('hd-d')]);
  coin = await createTokenSubtree(A.url, { owner: alice, authority: A.publicKey, name: 'coin', balances: { [alice.publicKey]: 123_456_789n, [bob.publicKey]: 5n } });
  proxy = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const u = new URL(req.url);
      const res = await fetch(A.url + u.pathname + u.search, { method: req.method, headers: req.headers, ...(req.method === 'GET' ? {} : { body: await req.text() }) });
      if (!/\/state\/sys(%2F|\/)consensus$/.test(u.pathname)) return new Response(res.body, { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? '' } });
      // A forged signer set: any key D could be made to accept.
      const body = (await res.json()) as Record<string, unknown>;
      const forged = { ...body, exists: true, value: { mode: { type: 'multisig', signers: [alice.publicKey], threshold: 1, proposalTimeoutMs: 5000 } } };
      return Response.json(forged, { status: res.status });
    },
  });
}, 30_000);

async function pay(n: number) {
  let last = '';
  for (let i = 0; i < n; i++) {
    const t = transfer(coin.id, alice, alicesNonce++, bob.publicKey, '1');
    expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
    last = t.id;
  }
  return until('executed', async () => {
    const r = await http(A.url, 'GET', `/v1/transactions/${last}`);
    return r.body.status === 'executed' ? r.body : undefined;
  });
}

describe('a light follow of a PoA subtree', () => {
  test('serves head and rounds as A does, and no state or log', async () => {
    await pay(3);
    const r = await follow(C, A.url, coin.id, 'headers');
    expect(r.status).toBe(201);
    expect(r.body.verify).toBe('headers');
    await pay(4);
    const a = await headOf(A, coin.id);
    await caughtUp(C, coin.id, a.height);
    const c = await headOf(C, coin.id);
    expect([c.height, c.root, c.headHash, c.logSize, c.verify, c.origin, c.status]).toEqual([a.height, a.root, a.headHash, a.logSize, 'headers', A.url, 'following']);
    for (let h = 0; h <= a.height; h++) {
      const { createdAt: _c, ...mine } = (await http(C.url, 'GET', `/v1/subtrees/${coin.id}/rounds/${h}`)).body;
      const { createdAt: _a, ...theirs } = (await http(A.url, 'GET', `/v1/subtrees/${coin.id}/rounds/${h}`)).body;
      expect(mine).toEqual(theirs);
    }
    const page = await http(C.url, 'GET', `/v1/subtrees/${coin.id}/rounds?order=asc&limit=100`);
    expect(page.body.items.length).toBe(a.height + 1);

    for (const path of [`/state/balance%2F${bob.publicKey}`, `/state/supply?height=1`, '/log']) {
      const s = await http(C.url, 'GET', `/v1/subtrees/${coin.id}${path}`);
      expect([s.status, s.body.code, s.body.origin]).toEqual([404, 'headers_only', A.url]);
    }
    // No state was kept: not even the genesis balance's value.
    const db = await openReader(C.dbPath);
    try {
      expect(await db.all(`SELECT count(*) AS n FROM smt_values WHERE json = '"123456789"'`)).toEqual([{ n: 0 }]);
      expect(await db.all('SELECT count(*) AS n FROM txs WHERE subtree = ?', [coin.id])).toEqual([{ n: 0 }]);
    } finally {
      db.close();
    }
  }, 60_000);

  test('its global-tree entry is marked "verify": "headers"; the chain through C verifies with the SDK and dstp verify --chain', async () => {
    const a = await headOf(A, coin.id);
    const cp = await until('a checkpoint of C with the light head', async () => {
      const latest = await http(C.url, 'GET', '/v1/checkpoints/latest');
      const expected = smtRoot([{ key: coin.id, value: { root: a.root, height: a.height, round: a.headHash, verify: 'headers' } }]);
      return latest.status === 200 && latest.body.checkpoint.globalRoot === expected ? latest.body : undefined;
    });
    const gp = await http(C.url, 'GET', `/v1/subtrees/${coin.id}/global-proof`);
    expect(gp.body.entry).toEqual({ root: a.root, height: a.height, round: a.headHash, verify: 'headers' });

    const info = (await http(C.url, 'GET', '/v1/info')).body;
    const chain = await fetchChain(C.url, coin.id, `balance/${bob.publicKey}`, { seq: cp.checkpoint.seq });
    expect(chain.value).toBe(String(5n + BigInt(alicesNonce)));
    expect(chain.round).toEqual({ header: (await http(C.url, 'GET', `/v1/subtrees/${coin.id}/rounds/${a.height}`)).body.header, signatures: expect.any(Array) });
    const request = (await headOf(C, coin.id)).request;
    const v = await verifyChainResponse(chain, { key: `balance/${bob.publicKey}`, request, nodeKey: info.publicKey, origin: info.origin, network: NETWORK });
    expect(v.checkpoint.seq).toBe(cp.checkpoint.seq);

    const proc = Bun.spawn([`${REPO_ROOT}/node_modules/.bin/bun`, 'src/cli/main.ts', 'verify', '--chain', '--subtree', coin.id, '--key', `balance/${alice.publicKey}`, '--seq', String(cp.checkpoint.seq), '--node', C.url], {
      cwd: REPO_ROOT,
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, , code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(0);
    expect(JSON.parse(out).ok).toBe(true);
  }, 30_000);

  test('the origin down: the chain is 503 origin_unreachable, never a 5xx of its own or unverified data', async () => {
    const port = new URL(A.url).port;
    const saved = { dbPath: A.dbPath, keyHex: A.keyHex };
    await A.proc.kill9();
    const r = await http(C.url, 'GET', `/v1/subtrees/${coin.id}/chain/supply`);
    expect([r.status, r.body.code]).toEqual([503, 'origin_unreachable']);
    expect((await http(C.url, 'GET', `/v1/subtrees/${coin.id}`)).status).toBe(200);
    A = await startNode('hd-a', { PORT: port }, saved);
    await pay(2);
    const a = await headOf(A, coin.id);
    await caughtUp(C, coin.id, a.height, 30_000);
    expect((await headOf(C, coin.id)).headHash).toBe(a.headHash);
  }, 60_000);
});

test('a light follow of a multisig subtree tracks a signer change through sys/consensus proofs; forged proofs are never believed', async () => {
  const dir = tempDir('dstp-follow-hd-ms-');
  const owner = generateKey();
  const signers: KeyPair[] = [generateKey(), generateKey('secp256k1'), generateKey('bip340'), generateKey()];
  const writer = generateKey();
  const mode = { type: 'multisig' as const, signers: signers.slice(0, 3).map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 5000 };
  const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name: 'cosigned', program: 'kv', config: { writers: 'any' }, mode, genesis: [] });
  const created = await http(A.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, signers[0]!, signers[1]!]) });
  expect(created.status).toBe(201);
  const subtree = created.body.id as string;
  const start = (i: number) => spawnCosigner({ dir: join(dir), name: `cosigner-${i}`, key: signers[i]!, node: A.url, subtree });
  const cos: CosignProc[] = [start(0), start(1), start(2)];
  await Promise.all(cos.map(cosignerReady));
  const w = kvWriter(A.url, subtree, writer);

  expect((await follow(C, A.url, subtree, 'headers')).status).toBe(201);
  expect((await follow(D, `http://127.0.0.1:${proxy.port}`, subtree, 'headers')).status).toBe(201);
  await w.allExecuted(await w.sendMany(3, 'before'), 'rounds under the first set');
  await caughtUp(C, subtree, (await headOf(A, subtree)).height, 20_000);

  const next = { signers: [signers[0]!.publicKey, signers[1]!.publicKey, signers[3]!.publicKey], threshold: 2 };
  for (const i of [0, 1]) {
    const t = signTransaction({ network: NETWORK, subtree, key: signers[i]!, nonce: 0, call: 'set_signers', args: next });
    expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
    await w.allExecuted([t.id], `vote ${i}`);
  }
  cos.push(start(3));
  await cosignerReady(cos[3]!);
  await cos[2]!.kill9();
  await cos[0]!.kill9(); // only signers 1 and 3 remain: rounds are final only under the new set
  await w.allExecuted(await w.sendMany(3, 'after'), 'rounds under the new set');
  const a = await headOf(A, subtree);
  await caughtUp(C, subtree, a.height, 20_000);
  const c = await headOf(C, subtree);
  expect([c.root, c.headHash, c.verify]).toEqual([a.root, a.headHash, 'headers']);
  const last = await http(C.url, 'GET', `/v1/subtrees/${subtree}/rounds/${a.height}`);
  expect(last.body.signatures.map((s: { signer: string }) => s.signer)).toContain(signers[3]!.publicKey);

  // D was fed a forged signer set for every round: it applied none and did not halt.
  const d = (await http(D.url, 'GET', `/v1/follows/${subtree}`)).body;
  expect([d.height, d.status === 'halted', d.halt]).toEqual([0, false, undefined]);
  expect((await headOf(D, subtree)).height).toBe(0);
}, 120_000);
