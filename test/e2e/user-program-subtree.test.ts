/**
 * A subtree that runs a user program end to end on a real node (SPEC §7.1): upload the counter
 * example, create a subtree with `"program": "js:<id>"` (its config goes to the program's
 * parseConfig; a config it refuses is a 4xx), submit transactions, run a round, and read receipts
 * that carry `gas`, failure codes of the program, and the state the program wrote.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from '../../src/client/keys.ts';
import { signDigestHex, signTransaction, subtreeIdHex } from '../../src/client/sign.ts';
import { digest } from '../../src/core/digest.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { ADMIN_TOKEN, NETWORK, startServer, type TestServer } from '../helpers/server.ts';

const counter = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'programs', 'counter.js'), 'utf8');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
let node: TestServer;
beforeAll(async () => {
  node = await startServer();
});
afterAll(async () => {
  await node?.close();
});

const post = (path: string, body: unknown) => fetch(`${node.url}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });

describe('a subtree running a user program', () => {
  test('create, execute, receipts with gas, state', async () => {
    const up = (await (await post('/v1/programs', { source: counter })).json()) as { id: string };
    const owner = generateKey('ed25519');
    const user = generateKey('ed25519');
    const spec = (config: unknown, name: string, program = `js:${up.id}`) => ({
      v: 1, network: NETWORK, parent: ROOT_ID_HEX, owner: owner.publicKey, name, program, config,
      mode: { type: 'poa', authority: node.nodeKey }, genesis: [],
    });
    const create = (s: ReturnType<typeof spec>) => post('/v1/subtrees', { subtree: s, sigs: [{ signer: owner.publicKey, sig: signDigestHex(owner, digest('subtree', s)) }] });

    // The program's parseConfig refuses this config; an unknown program id is unknown_program.
    const refused = await create(spec({ perSender: 0, maxStep: 1 }, 'bad'));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe('invalid_config');
    const unknown = await create(spec({ perSender: 1, maxStep: 1 }, 'unknown', `js:${'ab'.repeat(32)}`));
    expect(((await unknown.json()) as { code: string }).code).toBe('unknown_program');

    const s = spec({ perSender: 3, maxStep: 2, gasLimit: 5_000_000 }, 'counter');
    const created = await create(s);
    expect(created.status).toBe(201);
    const head = (await created.json()) as { id: string; program: string };
    expect(head.program).toBe(`js:${up.id}`);
    const subtree = subtreeIdHex(s as never);
    expect(head.id).toBe(subtree);

    // checkCall runs at accept time: a call the program refuses is never appended.
    const bad = signTransaction({ network: NETWORK, subtree, key: user, nonce: 0, call: 'increment', args: { by: 9 } });
    const badR = await post('/v1/transactions', bad.envelope);
    expect(badR.status).toBe(400);

    const ids: string[] = [];
    for (const [nonce, by] of [[0, 2], [1, 2], [2, 1]] as const) {
      const t = signTransaction({ network: NETWORK, subtree, key: user, nonce, call: 'increment', args: { by } });
      const r = await post('/v1/transactions', t.envelope);
      expect(r.status).toBe(202);
      ids.push(t.id);
    }
    const tick = await fetch(`${node.url}/v1/leader/tick`, { method: 'POST', headers: admin });
    expect(tick.status).toBe(200);
    const receipts = [];
    for (const id of ids) {
      const r = (await (await fetch(`${node.url}/v1/transactions/${id}`)).json()) as { status: string; receipt: { status: string; code?: string; gas: number } };
      receipts.push(r.receipt);
    }
    expect(receipts.map((r) => r.code ?? r.status)).toEqual(['ok', 'limit_reached', 'ok']);
    for (const r of receipts) expect(r.gas).toBeGreaterThan(0);
    const total = (await (await fetch(`${node.url}/v1/subtrees/${subtree}/state/total`)).json()) as { value: number };
    expect(total.value).toBe(3);
    const mine = (await (await fetch(`${node.url}/v1/subtrees/${subtree}/state/${encodeURIComponent(`count/${user.publicKey}`)}`)).json()) as { value: number };
    expect(mine.value).toBe(3);
  }, 120_000);
});
