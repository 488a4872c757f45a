import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, REPO_ROOT, type Party, type TestServer } from '../helpers/server.ts';

/**
 * SPEC §7.1 admission at accept time, on a real node: what cannot succeed is refused at the door
 * (4xx with the program's code, nothing appended, no nonce used, no state written), and what may
 * succeed thanks to credits in flight — earlier items of a batch, transactions accepted and not
 * yet executed — is admitted. Execution stays the authority. The token scenarios run twice: on
 * the native `token` and on examples/programs/token.js, whose `admit` and `credits` run in the
 * sandbox.
 */
let s: TestServer;
let userToken: string;
const minter = party('adm-minter');
const alice = party('adm-alice');
const coins: Record<string, string> = {};

const tick = async () => expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
const status = async (id: string) => (await call(s.url, 'GET', `/v1/transactions/${id}`)).body;

beforeAll(async () => {
  s = await startServer();
  const up = await call(s.url, 'POST', '/v1/programs', { json: { source: readFileSync(join(REPO_ROOT, 'examples', 'programs', 'token.js'), 'utf8') }, headers: adminHeader() });
  expect(up.status).toBe(201);
  userToken = `js:${up.body.id}`;
  for (const [label, program] of [['native', 'token'], ['user', userToken]] as const) {
    const r = subtreeRequest({
      network: s.network,
      owner: minter,
      name: `admitted-${label}`,
      program,
      config: { symbol: 'AD', decimals: 0, minter: minter.key },
      authority: s.nodeKey,
      genesis: [
        { key: `balance/${alice.key}`, value: '10' },
        { key: 'supply', value: '10' },
      ],
    });
    coins[label] = r.id;
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() })).status).toBe(201);
  }
});

afterAll(async () => {
  await s?.close();
});

for (const label of ['native', 'user'] as const) {
const coin = () => coins[label]!;
const send = (from: Party, nonce: number, call_: string, args: Record<string, string>) =>
  call(s.url, 'POST', '/v1/transactions', { json: signedTx(from, { network: s.network, subtree: coin(), nonce, call: call_, args }) });
const balance = async (who: Party) => (await call(s.url, 'GET', `/v1/subtrees/${coin()}/state/balance/${who.key}`)).body.value ?? '0';
const logSize = async () => Number((await s.ctx!.db.read.execute({ sql: 'SELECT count(*) FROM txs WHERE subtree = ?', args: [coin()] })).rows[0]![0]);

describe(`token (${label})`, () => {
  test('a transfer from a key with no balance and nothing in flight: 409 insufficient_balance, nothing appended, nonce unused, no state', async () => {
    const nobody = party(`${label}-adm-nobody`);
    const before = await logSize();
    const r = await send(nobody, 0, 'transfer', { to: alice.key, amount: '1' });
    expect(r.status).toBe(409);
    expect(r.type).toBe('application/problem+json');
    expect(r.body.code).toBe('insufficient_balance');
    expect(r.body.admission).toBe(true);
    expect(await logSize()).toBe(before);
    await tick();
    expect((await call(s.url, 'GET', `/v1/subtrees/${coin()}/state/sys/nonce/${nobody.key}`)).body.exists).toBe(false);
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
    const fresh = party(`${label}-adm-fresh`);
    const mintNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin()}/state/sys/nonce/${minter.key}`)).body.value ?? 0);
    const txs = [
      signedTx(minter, { network: s.network, subtree: coin(), nonce: mintNonce, call: 'mint', args: { to: fresh.key, amount: '4' } }),
      signedTx(fresh, { network: s.network, subtree: coin(), nonce: 0, call: 'transfer', args: { to: alice.key, amount: '3' } }),
    ];
    const r = await call(s.url, 'POST', '/v1/transactions/batch', { json: { txs } });
    expect(r.body.items.map((i: { status: number }) => i.status)).toEqual([202, 202]);
    await tick();
    for (const it of r.body.items) expect((await status(it.id)).status).toBe('executed');
    expect(await balance(fresh)).toBe('1');
  });

  test('a chain A→B→C→D sent back to back, before any round: each hop is admitted on the credit in flight', async () => {
    const [b, c, d] = [party(`${label}-adm-b`), party(`${label}-adm-c`), party(`${label}-adm-d`)];
    const aliceNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin()}/state/sys/nonce/${alice.key}`)).body.value ?? 0);
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
    const e = party(`${label}-adm-e`);
    const mintNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin()}/state/sys/nonce/${minter.key}`)).body.value ?? 0);
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
    const f = party(`${label}-adm-f`);
    const mintNonce = Number((await call(s.url, 'GET', `/v1/subtrees/${coin()}/state/sys/nonce/${minter.key}`)).body.value ?? 0);
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

}

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

describe('user programs', () => {
  const upload = async (source: string) => {
    const up = await call(s.url, 'POST', '/v1/programs', { json: { source }, headers: adminHeader() });
    expect([200, 201]).toContain(up.status);
    return `js:${up.body.id}`;
  };
  const subtreeOf = async (program: string, name: string) => {
    const owner = party(`adm-user-${name}`);
    const r = subtreeRequest({ network: s.network, owner, name, program, config: {}, authority: s.nodeKey });
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() })).status).toBe(201);
    return r.id;
  };
  const put = (from: Party, subtree: string, nonce: number, value: string) =>
    call(s.url, 'POST', '/v1/transactions', { json: signedTx(from, { network: s.network, subtree, nonce, call: 'set', args: { value } }) });
  const apply = `reads() { return []; }, apply(c, call, args) { return { writes: [{ key: 'v', value: args.value }] }; },`;

  test("the program's own code refuses with 409 and admission: true; nothing appended; the nonce stays unused", async () => {
    const sub = await subtreeOf(await upload(`export default { ${apply} admit(c, call, args) { return args.value === 'no' ? { fail: 'closed_for_you' } : null; } };`), 'adm-own-code');
    const who = party('adm-own-code-sender');
    const r = await put(who, sub, 0, 'no');
    expect(r.status).toBe(409);
    expect(r.type).toBe('application/problem+json');
    expect(r.body.code).toBe('closed_for_you');
    expect(r.body.admission).toBe(true);
    // The nonce was not used: 0 is still the one to send.
    expect((await put(who, sub, 0, 'yes')).status).toBe(202);
    await tick();
    const log = await s.ctx!.db.read.execute({ sql: 'SELECT count(*) FROM txs WHERE subtree = ?', args: [sub] });
    expect(Number(log.rows[0]![0])).toBe(1);
    expect((await call(s.url, 'GET', `/v1/subtrees/${sub}/state/v`)).body.value).toBe('yes');
  });

  test('a hostile admit (an endless loop, or one that throws) admits, within its own small gas limit; execution decides', async () => {
    const loop = await subtreeOf(await upload(`export default { ${apply} admit() { for (;;) {} } };`), 'adm-loop');
    const thrower = await subtreeOf(await upload(`export default { ${apply} admit() { throw { not: 'an error' }; } };`), 'adm-throw');
    const who = party('adm-hostile-sender');
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const r = await put(who, loop, i, `v${i}`);
      times.push(performance.now() - t);
      expect(r.status).toBe(202);
    }
    expect((await put(who, thrower, 0, 'w')).status).toBe(202);
    await tick();
    expect((await call(s.url, 'GET', `/v1/subtrees/${loop}/state/v`)).body.value).toBe('v2');
    expect((await call(s.url, 'GET', `/v1/subtrees/${thrower}/state/v`)).body.value).toBe('w');
    // ADMIT_GAS_LIMIT (1,000,000) is ~1-3 ms of interpretation; the whole accept stays far below
    // what the subtree's 10,000,000 gas would cost. Loose bound: the machine is shared.
    times.sort((a, b) => a - b);
    expect(times[1]!).toBeLessThan(250);
  });

  test('a program without admit admits every well-formed call', async () => {
    const sub = await subtreeOf(await upload(`export default { ${apply} };`), 'adm-none');
    expect((await put(party('adm-none-sender'), sub, 0, 'no')).status).toBe(202);
  });
});
