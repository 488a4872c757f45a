import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import {
  buildSubtreeRequest,
  DstpClient,
  DstpHttpError,
  fetchVerifiedState,
  generateKey,
  signSubtreeRequest,
  signTransaction,
  subtreeIdHex,
  tokenGenesis,
  verifyAcceptance,
  verifyStateResponse,
  VerificationError,
  type KeyPair,
  type NodeInfo,
} from '../../src/client/index.ts';
import { balanceKey } from '../../src/core/programs/token.ts';
import { startServerProcess, type TestServer } from '../helpers/server.ts';

/**
 * The seed example of SPEC §7 through the SDK against the real node (`bun src/runtime/bun.ts` as a
 * child process, fresh libSQL file): genesis Alice 10, Bob 1 with the node as PoA authority;
 * Alice sends Bob 2; both balances read back with proofs verified without trusting the node.
 */
let server: TestServer;
let client: DstpClient;
let info: NodeInfo;
const owner = generateKey();
const alice = generateKey();
const bob = generateKey('secp256k1');
let subtree: string;

beforeAll(async () => {
  server = await startServerProcess();
  client = new DstpClient({ baseUrl: server.url, adminToken: server.adminToken! });
  info = await client.info();
});
afterAll(async () => {
  await server?.close();
});

function seedSpec(name: string, ownerKey: KeyPair = owner) {
  return buildSubtreeRequest({
    network: info.network,
    owner: ownerKey.publicKey,
    name,
    program: 'token',
    config: { symbol: 'SEED', decimals: 0, minter: ownerKey.publicKey },
    mode: { type: 'poa', authority: info.publicKey },
    genesis: tokenGenesis({ [alice.publicKey]: 10, [bob.publicKey]: 1 }),
  });
}

describe('SDK against the real node', () => {
  test('info names the node key the test configured', () => {
    expect(info.publicKey).toBe(server.nodeKey);
    expect(info.network).toBe(server.network);
  });

  test('the node adds its authority signature only for the admin caller', async () => {
    const body = signSubtreeRequest(seedSpec('seed-app'), [owner]);
    const anonymous = new DstpClient({ baseUrl: server.url });
    const refused = await anonymous.createSubtree(body).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DstpHttpError);
    expect((refused as DstpHttpError).status).toBe(403);
    expect((refused as DstpHttpError).code).toBe('forbidden');

    const head = await client.createSubtree(body);
    subtree = head.id;
    expect(subtree).toBe(subtreeIdHex(body.subtree));
    expect(head.height).toBe(0);
    expect(head.mode).toEqual({ type: 'poa', authority: info.publicKey });
    // Idempotent: the same signed request again answers the same head.
    expect((await client.createSubtree(body)).id).toBe(subtree);
    expect((await client.listSubtrees()).items.map((s) => s.id)).toContain(subtree);
  });

  test('genesis balances verify end to end (proof, round 0, node signature, owner-signed request)', async () => {
    const { verified } = await fetchVerifiedState(client, subtree, balanceKey(alice.publicKey), { expectedValue: '10' });
    expect(verified.height).toBe(0);
    expect(verified.links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree']);
    expect(verified.signers).toEqual([info.publicKey]);
  });

  test('Alice sends Bob 2: signed acceptance, idempotent resubmission, execution, verified 8 and 3', async () => {
    const sent = await client.send({ subtree, key: alice, call: 'transfer', args: { to: bob.publicKey, amount: '2' } });
    expect(sent.status).toBe(202);
    expect(sent.nonce).toBe(0);
    verifyAcceptance(sent.accept, sent.sig, info.publicKey, { tx: sent.id, subtree, network: info.network });
    expect(sent.accept.seq).toBe(0);

    const again = await client.submit(sent.envelope);
    expect(again).toEqual({ status: 200, id: sent.id, accept: sent.accept, sig: sent.sig });

    const done = await client.waitForExecution(sent.id, { timeoutMs: 10_000 });
    expect(done.status).toBe('executed');
    expect(done.height).toBeGreaterThanOrEqual(1);

    for (const [who, amount] of [[alice, '8'], [bob, '3']] as const) {
      const { state, verified } = await fetchVerifiedState(client, subtree, balanceKey(who.publicKey), { expectedValue: amount });
      expect(state.value).toBe(amount);
      expect(verified.height).toBeGreaterThanOrEqual(1);
      expect(verified.links).toHaveLength(4);
    }
    // History: round 0 still proves the genesis balance.
    const { verified: past } = await fetchVerifiedState(client, subtree, balanceKey(alice.publicKey), { height: 0, expectedValue: '10' });
    expect(past.height).toBe(0);
    // The round fetched by height is the same one the state response embeds.
    const state = await client.getState(subtree, balanceKey(bob.publicKey));
    const fetched = await verifyStateResponse({ ...state, round: undefined }, { key: balanceKey(bob.publicKey), subtree, client, mode: (await client.getSubtree(subtree)).mode });
    expect(fetched.links[1]!.detail).toContain('(fetched)');
    expect(fetched.roundHash).toBe(state.roundHash!);
  });

  test('nonces: a stale nonce gets 409 with the expected one; an explicit nonce is used as given; send() without one corrects itself', async () => {
    const stale = signTransaction({ network: info.network, subtree, key: alice, nonce: 0, call: 'transfer', args: { to: bob.publicKey, amount: '1' } });
    const e = await client.submit(stale.envelope).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DstpHttpError);
    expect((e as DstpHttpError).status).toBe(409);
    expect((e as DstpHttpError).code).toBe('nonce_mismatch');
    expect((e as DstpHttpError).problem.expected).toBe(1);

    const explicit = await client.send({ subtree, key: alice, call: 'transfer', args: { to: bob.publicKey, amount: '1' }, nonce: 0 }).catch((x: unknown) => x);
    expect(explicit).toBeInstanceOf(DstpHttpError);
    expect((explicit as DstpHttpError).problem).toMatchObject({ code: 'nonce_mismatch', expected: 1 });
    const sent = await client.send({ subtree, key: alice, call: 'transfer', args: { to: bob.publicKey, amount: '1' } });
    expect(sent.nonce).toBe(1);
    // Accepted but maybe not executed yet, so state may still say 1 — and the same transfer at
    // nonce 1 is the same id (a 200, deduplicated): send() must move on to nonce 2.
    const next = await client.send({ subtree, key: alice, call: 'transfer', args: { to: bob.publicKey, amount: '1' } });
    expect(next.nonce).toBe(2);
    for (const id of [sent.id, next.id]) expect((await client.waitForExecution(id, { timeoutMs: 10_000 })).status).toBe('executed');
    await fetchVerifiedState(client, subtree, balanceKey(alice.publicKey), { expectedValue: '6' });
    expect(await client.nextNonce(subtree, alice.publicKey)).toBe(3);
  });

  test('a transaction that fails in execution reports its code and still consumes the nonce', async () => {
    // "0" passes admission at accept time and fails in execution.
    const sent = await client.send({ subtree, key: bob, call: 'transfer', args: { to: alice.publicKey, amount: '0' } });
    const done = await client.waitForExecution(sent.id, { timeoutMs: 10_000 });
    expect(done.status).toBe('failed');
    expect(done.receipt?.code).toBe('invalid_amount');
    expect(await client.nextNonce(subtree, bob.publicKey)).toBe(1);
    await fetchVerifiedState(client, subtree, balanceKey(bob.publicKey), { expectedValue: '5' });
  });

  test('a live answer that is altered in transit fails at the proof link; rounds list the history', async () => {
    const state = await client.getState(subtree, balanceKey(bob.publicKey));
    const err = await verifyStateResponse({ ...state, value: '500' }, { key: state.key, subtree, client, request: (await client.getSubtree(subtree)).request }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).link).toBe('proof');
    const rounds = await client.listRounds(subtree, { limit: 100 });
    expect(rounds.items[0]!.header.height).toBe(0);
    expect(rounds.items.length).toBeGreaterThanOrEqual(2);
  });

  test('unknown subtree and malformed requests come back as problem+json errors with stable codes', async () => {
    const e = await client.getState('ab'.repeat(32), 'supply').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DstpHttpError);
    expect([(e as DstpHttpError).status, (e as DstpHttpError).code]).toEqual([404, 'unknown_subtree']);
    const bad = await client.submit({ tx: { nope: 1 }, sig: '00' } as never).catch((x: unknown) => x);
    expect((bad as DstpHttpError).status).toBe(400);
    expect(typeof (bad as DstpHttpError).code).toBe('string');
  });
});

