import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type Party, type TestServer } from '../helpers/server.ts';

/**
 * SPEC §7.1 admission at accept time, on a real node: what cannot succeed is refused at the door
 * (4xx with the program's code, nothing appended, no nonce used, no state written), and what may
 * succeed thanks to credits in flight — earlier items of a batch, transactions accepted and not
 * yet executed — is admitted. Execution stays the authority.
 */
let s: TestServer;
const minter = party('adm-minter');
const alice = party('adm-alice');
let coin: string;

const tick = async () => expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
const send = (from: Party, nonce: number, call_: string, args: Record<string, string>) =>
  call(s.url, 'POST', '/v1/transactions', { json: signedTx(from, { network: s.network, subtree: coin, nonce, call: call_, args }) });
const balance = async (who: Party) => (await call(s.url, 'GET', `/v1/subtrees/${coin}/state/balance/${who.key}`)).body.value ?? '0';
const logSize = async () => Number((await s.ctx!.db.read.execute({ sql: 'SELECT count(*) FROM txs WHERE subtree = ?', args: [coin] })).rows[0]![0]);
const status = async (id: string) => (await call(s.url, 'GET', `/v1/transactions/${id}`)).body;

beforeAll(async () => {
  s = await startServer();
  const r = subtreeRequest({
    network: s.network,
    owner: minter,
    name: 'admitted',
    program: 'token',
    config: { symbol: 'AD', decimals: 0, minter: minter.key },
    authority: s.nodeKey,
    genesis: [
      { key: `balance/${alice.key}`, value: '10' },
      { key: 'supply', value: '10' },
    ],
  });
  coin = r.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() })).status).toBe(201);
});

afterAll(async () => {
  await s?.close();
});

describe('token', () => {
  test('a transfer from a key with no balance and nothing in flight: 409 insufficient_balance, nothing appended, nonce unused, no state', async () => {
    const nobody = party('adm-nobody');
    const before = await logSize();
    const r = await send(nobody, 0, 'transfer', { to: alice.key, amount: '1' });
    expect(r.status).toBe(409);
    expect(r.type).toBe('application/problem+json');
    expect(r.body.code).toBe('insufficient_balance');
    expect(r.body.admission).toBe(true);
    expect(await logSize()).toBe(before);
    await tick();
    expect((await call(s.url, 'GET', `/v1/subtrees/${coin}/state/sys/nonce/${nobody.key}`)).body.exists).toBe(false);
    // A burn likewise; more than the balance likewise.
    expect((await send(nobody, 0, 'burn', { amount: '1' })).body.code).toBe('insufficient_balance');
    expect((await send(alice, 0, 'transfer', { to: nobody.key, amount: '11' })).body.code).toBe('insufficient_balance');
  });

  test('a mint by anyone but the minter: 403 unauthorized', async () => {
    const r = await send(alice, 0, 'mint', { to: alice.key, amount: '5' });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('unauthorized');
  });

  test('in one batch, a mint to a new account and a transfer from it are both admitted, and both execute', async () => {
    const fresh = party('adm-fresh');
    const mintNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin}/state/sys/nonce/${minter.key}`)).body.value ?? 0);
    const txs = [
      signedTx(minter, { network: s.network, subtree: coin, nonce: mintNonce, call: 'mint', args: { to: fresh.key, amount: '4' } }),
      signedTx(fresh, { network: s.network, subtree: coin, nonce: 0, call: 'transfer', args: { to: alice.key, amount: '3' } }),
    ];
    const r = await call(s.url, 'POST', '/v1/transactions/batch', { json: { txs } });
    expect(r.body.items.map((i: { status: number }) => i.status)).toEqual([202, 202]);
    await tick();
    for (const it of r.body.items) expect((await status(it.id)).status).toBe('executed');
    expect(await balance(fresh)).toBe('1');
  });

  test('a chain A→B→C→D sent back to back, before any round: each hop is admitted on the credit in flight', async () => {
    const [b, c, d] = [party('adm-b'), party('adm-c'), party('adm-d')];
    const aliceNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin}/state/sys/nonce/${alice.key}`)).body.value ?? 0);
    const hops = [
      await send(alice, aliceNonce, 'transfer', { to: b.key, amount: '2' }),
      await send(b, 0, 'transfer', { to: c.key, amount: '2' }),
      await send(c, 0, 'transfer', { to: d.key, amount: '2' }),
    ];
    expect(hops.map((h) => h.status)).toEqual([202, 202, 202]);
    await tick();
    for (const h of hops) expect((await status(h.body.accept.tx)).status).toBe('executed');
    expect(await balance(d)).toBe('2');
    // Once executed, the credit is state: a fresh transfer from D is admitted on its balance.
    expect((await send(d, 0, 'transfer', { to: alice.key, amount: '2' })).status).toBe(202);
    await tick();
  });

  test('admission is a filter: two spends that each fit are admitted; execution fails the second', async () => {
    const e = party('adm-e');
    const mintNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin}/state/sys/nonce/${minter.key}`)).body.value ?? 0);
    expect((await send(minter, mintNonce, 'mint', { to: e.key, amount: '5' })).status).toBe(202);
    await tick();
    const first = await send(e, 0, 'transfer', { to: alice.key, amount: '4' });
    const second = await send(e, 1, 'transfer', { to: alice.key, amount: '4' });
    expect([first.status, second.status]).toEqual([202, 202]);
    await tick();
    expect((await status(first.body.accept.tx)).status).toBe('executed');
    const failed = await status(second.body.accept.tx);
    expect(failed.status).toBe('failed');
    expect(failed.receipt.code).toBe('insufficient_balance');
  });

  test('a spend after a round emptied the balance is refused at once: the head a group commit read before that round is not used', async () => {
    const f = party('adm-f');
    const mintNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin}/state/sys/nonce/${minter.key}`)).body.value ?? 0);
    expect((await send(minter, mintNonce, 'mint', { to: f.key, amount: '5' })).status).toBe(202);
    await tick();
    // Admitted on the balance of 5; its group commit reads the head of that round.
    expect((await send(f, 0, 'transfer', { to: alice.key, amount: '5' })).status).toBe(202);
    await tick(); // this process commits the round that spends it: f holds 0
    const r = await send(f, 1, 'transfer', { to: alice.key, amount: '1' });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('insufficient_balance');
  });
});

describe('kv', () => {
  test('a sender not among the writers: 403 unauthorized, nothing appended; a writer is admitted', async () => {
    const writer = party('adm-writer');
    const stranger = party('adm-stranger');
    const r = subtreeRequest({ network: s.network, owner: writer, name: 'closed', program: 'kv', config: { writers: [writer.key] }, authority: s.nodeKey });
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() })).status).toBe(201);
    const put = (from: Party) => call(s.url, 'POST', '/v1/transactions', { json: signedTx(from, { network: s.network, subtree: r.id, nonce: 0, call: 'set', args: { key: 'k', value: 'v' } }) });
    const refused = await put(stranger);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('unauthorized');
    expect((await put(writer)).status).toBe(202);
    const log = await s.ctx!.db.read.execute({ sql: 'SELECT sender FROM txs WHERE subtree = ?', args: [r.id] });
    expect(log.rows.map((x) => String(x[0]))).toEqual([writer.key]);
  });
});
