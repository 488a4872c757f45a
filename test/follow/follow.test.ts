import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildSubtreeRequest, DstpClient, fetchVerifiedState, generateKey, signSubtreeRequest, signTransaction, verifyAcceptance } from '../../src/client/index.ts';
import { REPO_ROOT } from '../helpers/server.ts';
import { ADMIN_TOKEN, cleanupAll, createTokenSubtree, http, NETWORK, transfer, type TokenSubtree } from '../reliability/harness.ts';
import { caughtUp, follow, headOf, smtRoot, startNode, until, type TestNode } from './helpers.ts';

/**
 * SPEC §12 with real node processes, each on its own libSQL file: A hosts a token and a kv
 * subtree, C follows both. C serves what A serves (the SDK verifies C's answers unchanged),
 * forwards transactions to A (the acceptance is A's), keeps serving while A is SIGKILLed and
 * catches up when A is back.
 */
let A: TestNode;
let C: TestNode;
const alice = generateKey();
const bob = generateKey();
let coin: TokenSubtree;
let notes: string;
let aliceNonce = 0;

async function pay(base: string, amount = '1') {
  const t = transfer(coin.id, alice, aliceNonce++, bob.publicKey, amount);
  const r = await http(base, 'POST', '/v1/transactions', { json: t.envelope });
  expect([200, 202]).toContain(r.status);
  return { ...t, res: r };
}

async function executed(base: string, id: string) {
  return until(`tx ${id.slice(0, 8)} executed`, async () => {
    const r = await http(base, 'GET', `/v1/transactions/${id}`);
    return r.status === 200 && r.body.status !== 'pending' ? r.body : undefined;
  });
}

beforeAll(async () => {
  [A, C] = await Promise.all([startNode('a'), startNode('c')]);
  coin = await createTokenSubtree(A.url, { owner: alice, authority: A.publicKey, name: 'coin', balances: { [alice.publicKey]: 1000n, [bob.publicKey]: 5n } });
  const spec = buildSubtreeRequest({ network: NETWORK, owner: bob.publicKey, name: 'notes', program: 'kv', config: { writers: 'any' }, mode: { type: 'poa', authority: A.publicKey }, genesis: [] });
  const created = await http(A.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [bob]), admin: true });
  expect(created.status).toBe(201);
  notes = created.body.id;
  for (let i = 0; i < 3; i++) await pay(A.url);
  const note = signTransaction({ network: NETWORK, subtree: notes, key: bob, nonce: 0, call: 'set', args: { key: 'hello', value: { text: 'from A' } } });
  expect((await http(A.url, 'POST', '/v1/transactions', { json: note.envelope })).status).toBe(202);
  await executed(A.url, note.id);
}, 60_000);

afterAll(async () => {
  await cleanupAll();
});

/** SPEC §4 sparse Merkle root over (key, value) pairs, written here from the text alone. */
describe('following', () => {
  test('C follows A\'s token and kv subtrees and reaches A\'s heads (one of them with `dstp follow`)', async () => {
    const cli = (args: string[]) =>
      Bun.spawn([`${REPO_ROOT}/node_modules/.bin/bun`, 'src/cli/main.ts', ...args, '--node', C.url], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', DSTP_ADMIN_TOKEN: ADMIN_TOKEN },
        stdout: 'pipe',
        stderr: 'pipe',
      });
    const p = cli(['follow', '--origin', A.url, '--subtree', coin.id]);
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(0);
    // No calendar runs in this test: the CLI says the chain ends at the signed note.
    expect(err === '' || err.startsWith('ots: absent')).toBe(true);
    const f1 = { status: 201, body: JSON.parse(out) };
    expect(f1.status).toBe(201);
    expect(f1.body).toMatchObject({ subtree: coin.id, origin: A.url, verify: 'full', originKey: A.publicKey });
    expect(['syncing', 'following']).toContain(f1.body.status);
    const f2 = await follow(C, A.url, notes);
    expect(f2.status).toBe(201);
    expect((await follow(C, A.url, notes)).status).toBe(200); // already followed
    for (const id of [coin.id, notes]) {
      const a = await until('A settled', async () => {
        const h = await headOf(A, id);
        return h.height === (await headOf(A, id)).height ? h : undefined;
      });
      await caughtUp(C, id, a.height);
      const c = await headOf(C, id);
      expect(c).toMatchObject({ id, height: a.height, root: a.root, headHash: a.headHash, origin: A.url, verify: 'full', status: 'following', request: a.request });
    }
    const l = cli(['follows']);
    const list = JSON.parse(await new Response(l.stdout).text());
    expect(list.items.map((f: { subtree: string }) => f.subtree).sort()).toEqual([coin.id, notes].sort());
    expect(list.items.every((f: { status: string }) => f.status === 'following')).toBe(true);
  });

  test('C\'s state answers verify with the SDK unchanged, and equal A\'s', async () => {
    const viaC = new DstpClient({ baseUrl: C.url });
    const viaA = new DstpClient({ baseUrl: A.url });
    const key = `balance/${bob.publicKey}`;
    const c = await fetchVerifiedState(viaC, coin.id, key);
    const a = await fetchVerifiedState(viaA, coin.id, key, { height: c.verified.height });
    expect(c.verified.value).toEqual(a.verified.value);
    expect(c.verified.root).toBe(a.verified.root);
    expect(c.verified.signers).toEqual([A.publicKey]);
    const n = await fetchVerifiedState(viaC, notes, 'kv/hello', { expectedValue: { text: 'from A' } });
    expect(n.verified.exists).toBe(true);
    // History, rounds and the log answer as A's do.
    const h1c = await http(C.url, 'GET', `/v1/subtrees/${coin.id}/state/${encodeURIComponent(key)}?height=1`);
    const h1a = await http(A.url, 'GET', `/v1/subtrees/${coin.id}/state/${encodeURIComponent(key)}?height=1`);
    expect(h1c.body.value).toEqual(h1a.body.value);
    expect(h1c.body.root).toBe(h1a.body.root);
    const rc = await http(C.url, 'GET', `/v1/subtrees/${coin.id}/rounds?limit=100`);
    const ra = await http(A.url, 'GET', `/v1/subtrees/${coin.id}/rounds?limit=100`);
    const strip = (rs: { items: { createdAt: number }[] }) => rs.items.map(({ createdAt: _, ...r }) => r);
    expect(strip(rc.body)).toEqual(strip(ra.body).slice(0, rc.body.items.length));
    const lc = await http(C.url, 'GET', `/v1/subtrees/${coin.id}/log?limit=1000`);
    const la = await http(A.url, 'GET', `/v1/subtrees/${coin.id}/log?limit=1000`);
    expect(lc.body.items.map((e: { id: string }) => e.id)).toEqual(la.body.items.map((e: { id: string }) => e.id).slice(0, lc.body.items.length));
  });

  test('a transaction posted to C executes on A; the acceptance is A\'s; C serves its result', async () => {
    const t = await pay(C.url, '7');
    expect(t.res.status).toBe(202);
    verifyAcceptance(t.res.body.accept, t.res.body.sig, A.publicKey, { tx: t.id, subtree: coin.id, network: NETWORK });
    const onA = await executed(A.url, t.id);
    expect(onA.status).toBe('executed');
    // Its status through C is A's answer (A's acceptance), before and after C replicated it.
    const statusC = await executed(C.url, t.id);
    expect(statusC.accept).toEqual(onA.accept);
    verifyAcceptance(statusC.accept, statusC.sig, A.publicKey, { tx: t.id });
    // The SDK's send-and-wait works against C unchanged.
    const client = new DstpClient({ baseUrl: C.url });
    const sent = await client.send({ subtree: coin.id, key: alice, call: 'transfer', args: { to: bob.publicKey, amount: '1' } });
    aliceNonce = sent.nonce + 1;
    expect((await client.waitForExecution(sent.id, { timeoutMs: 10_000 })).status).toBe('executed');
    await caughtUp(C, coin.id, onA.height);
    const viaC = new DstpClient({ baseUrl: C.url });
    const s = await fetchVerifiedState(viaC, coin.id, `balance/${alice.publicKey}`);
    const sa = await fetchVerifiedState(new DstpClient({ baseUrl: A.url }), coin.id, `balance/${alice.publicKey}`, { height: s.verified.height });
    expect(s.verified.value).toEqual(sa.verified.value);
    // Resubmitting through C is idempotent: A's 200 with the same acceptance.
    const again = await http(C.url, 'POST', '/v1/transactions', { json: t.envelope });
    expect(again.status).toBe(200);
    expect(again.body.accept).toEqual(t.res.body.accept);
    // Anything but a verifying acceptance is 502 (SPEC §12); A's own refusal rides along.
    const stale = await http(C.url, 'POST', '/v1/transactions', { json: transfer(coin.id, alice, 0, alice.publicKey, '1').envelope });
    expect([stale.status, stale.body.code, stale.body.originStatus, stale.body.originProblem.code]).toEqual([502, 'origin_bad_answer', 409, 'nonce_mismatch']);
    // Batches forward their followed items too.
    const b = transfer(coin.id, alice, aliceNonce++, bob.publicKey, '1');
    const batch = await http(C.url, 'POST', '/v1/transactions/batch', { json: { txs: [b.envelope] } });
    expect(batch.status).toBe(202);
    expect(batch.body.items[0].status).toBe(202);
    verifyAcceptance(batch.body.items[0].accept, batch.body.items[0].sig, A.publicKey, { tx: b.id });
    await executed(A.url, b.id);
  });

  test('followed subtrees are leaves of C\'s global tree; dstp verify --chain against C passes for a value hosted on A', async () => {
    // A is idle now: wait for a checkpoint of C that holds A's current heads.
    const heads = await Promise.all([coin.id, notes].map((id) => headOf(A, id)));
    for (const h of heads) await caughtUp(C, h.id, h.height);
    const cp = await until('a checkpoint with both heads', async () => {
      const latest = await http(C.url, 'GET', '/v1/checkpoints/latest');
      if (latest.status !== 200) return undefined;
      const expected = smtRoot(heads.map((h) => ({ key: h.id, value: { root: h.root, height: h.height, round: h.headHash } })));
      return latest.body.checkpoint?.globalRoot === expected || latest.body.globalRoot === expected ? latest.body : undefined;
    });
    expect(cp).toBeDefined();
    const proc = Bun.spawn([`${REPO_ROOT}/node_modules/.bin/bun`, 'src/cli/main.ts', 'verify', '--chain', '--subtree', coin.id, '--key', `balance/${bob.publicKey}`, '--seq', String(cp.checkpoint?.seq ?? cp.seq), '--node', C.url], {
      cwd: REPO_ROOT,
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(0);
    // No calendar runs in this test: the CLI says the chain ends at the signed note.
    expect(err === '' || err.startsWith('ots: absent')).toBe(true);
    const v = JSON.parse(out);
    expect(v.ok).toBe(true);
    expect(v.root).toBe(heads[0]!.root);
    expect(v.links.map((l: { link: string }) => l.link)).toEqual(expect.arrayContaining(['proof', 'round', 'signatures', 'global', 'checkpoint', 'log', 'note']));
  }, 30_000);

  test('origin SIGKILLed: C keeps serving verified state; origin back: C catches up by itself', async () => {
    const before = await headOf(C, coin.id);
    await A.proc.kill9();
    const viaC = new DstpClient({ baseUrl: C.url });
    const s = await fetchVerifiedState(viaC, coin.id, `balance/${bob.publicKey}`);
    expect(s.verified.height).toBe(before.height);
    const fwd = await http(C.url, 'POST', '/v1/transactions', { json: transfer(coin.id, alice, aliceNonce, bob.publicKey, '1').envelope });
    expect(fwd.status).toBe(503);
    expect(fwd.body.code).toBe('origin_unreachable');
    await Bun.sleep(500); // a few failed passes: back-off, not a halt
    expect((await http(C.url, 'GET', `/v1/follows/${coin.id}`)).body.status).not.toBe('halted');

    // A comes back on the same file and port; C notices by itself.
    A = await startNode('a', { PORT: new URL(A.url).port }, { dbPath: A.dbPath, keyHex: A.keyHex });
    for (let i = 0; i < 3; i++) await pay(A.url);
    const last = await pay(A.url);
    const done = await executed(A.url, last.id);
    await caughtUp(C, coin.id, done.height, 30_000);
    expect((await headOf(C, coin.id)).root).toBe((await http(A.url, 'GET', `/v1/subtrees/${coin.id}/rounds/${done.height}`)).body.header.stateRoot);
  }, 60_000);
});
