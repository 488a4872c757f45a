import { afterAll, beforeAll, expect, test } from 'bun:test';
import { buildSubtreeRequest, fetchChain, generateKey, signSubtreeRequest, signTransaction, verifyChainResponse } from '../../src/client/index.ts';
import { cleanupAll, createTokenSubtree, http, NETWORK } from '../reliability/harness.ts';
import { caughtUp, follow, headOf, startNode, until, type TestNode } from './helpers.ts';

/**
 * SPEC §12: following a nested subtree also follows its ancestors. A hosts coin ⊃ notes ⊃ deep;
 * C follows only `deep` (full), D only `deep` (headers): each ends up following all three the
 * same way, and a value of `deep` verifies with the SDK through each of them, up the parents'
 * `sys/child/<child>` entries to their own checkpoint.
 */
let A: TestNode;
let C: TestNode;
let D: TestNode;
const alice = generateKey();
const writer = generateKey();
let coin: string;
let notes: string;
let deep: string;

afterAll(cleanupAll);

async function nest(parent: string, name: string): Promise<string> {
  const spec = buildSubtreeRequest({ network: NETWORK, parent, owner: alice.publicKey, name, program: 'kv', config: { writers: 'any' }, mode: { type: 'poa', authority: A.publicKey }, genesis: [] });
  const r = await http(A.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [alice]), admin: true });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

beforeAll(async () => {
  [A, C, D] = await Promise.all([startNode('nest-a'), startNode('nest-c'), startNode('nest-d')]);
  coin = (await createTokenSubtree(A.url, { owner: alice, authority: A.publicKey, name: 'coin', balances: { [alice.publicKey]: 10n } })).id;
  notes = await nest(coin, 'notes');
  deep = await nest(notes, 'deep');
}, 30_000);

test('following a nested subtree follows its ancestors; a nested value verifies through the follower', async () => {
  const full = await follow(C, A.url, deep);
  const light = await follow(D, A.url, deep, 'headers');
  expect([full.status, light.status]).toEqual([201, 201]);
  for (const [node, verify] of [
    [C, 'full'],
    [D, 'headers'],
  ] as const) {
    const list = (await http(node.url, 'GET', '/v1/follows')).body.items as { subtree: string; verify: string; origin: string }[];
    expect(list.map((f) => f.subtree).sort()).toEqual([coin, notes, deep].sort());
    for (const f of list) expect([f.verify, f.origin]).toEqual([verify, A.url]);
    expect((await headOf(node, deep)).parent).toBe(notes);
  }

  const t = signTransaction({ network: NETWORK, subtree: deep, key: writer, nonce: 0, call: 'set', args: { key: 'answer', value: 42 } });
  expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);

  for (const node of [C, D]) {
    const info = (await http(node.url, 'GET', '/v1/info')).body;
    const request = (await headOf(node, deep)).request;
    // The chain exists once A carried deep's head into notes and notes' into coin, this node
    // followed those rounds, and checkpointed coin's head.
    const v = await until(
      'a chain for deep through the follower',
      async () => {
        const chain = await fetchChain(node.url, deep, 'kv/answer').catch(() => undefined);
        if (!chain?.exists) return undefined;
        return verifyChainResponse(chain, { key: 'kv/answer', request, nodeKey: info.publicKey, origin: info.origin, network: NETWORK, expectedValue: 42 });
      },
      30_000,
    );
    expect(v.parents.map((p) => p.subtree)).toEqual([notes, coin]);
  }
  for (const id of [coin, notes, deep]) {
    const a = await headOf(A, id);
    await caughtUp(C, id, a.height);
    expect((await headOf(C, id)).root).toBe(a.root);
  }
}, 90_000);
