/**
 * A subtree that runs a user program end to end on a real node (SPEC §7.1): upload the counter
 * example, create a subtree with `"program": "js:<id>"` (its config goes to the program's
 * parseConfig; a config it refuses is a 4xx), submit transactions, run a round, and read receipts
 * that carry `gas`, failure codes of the program, and the state the program wrote.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DstpClient } from '../../src/client/http.ts';
import { generateKey } from '../../src/client/keys.ts';
import { Cosigner } from '../../src/cosigner/cosigner.ts';
import { openDatabase } from '../../src/store/db.ts';
import type { Database } from '../../src/store/index.ts';
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

  test('co-signers fetch the program by id, check it, re-execute and sign; a node serving another source is caught', async () => {
    const up = (await (await post('/v1/programs', { source: counter })).json()) as { id: string };
    const [owner, a, b, c, user] = [0, 1, 2, 3, 4].map(() => generateKey('ed25519'));
    const s = {
      v: 1, network: NETWORK, parent: ROOT_ID_HEX, owner: owner!.publicKey, name: 'ms-counter', program: `js:${up.id}`,
      config: { perSender: 5, maxStep: 2 }, mode: { type: 'multisig', signers: [a!.publicKey, b!.publicKey, c!.publicKey], threshold: 2, proposalTimeoutMs: 60_000 }, genesis: [],
    };
    const d = digest('subtree', s);
    const created = await post('/v1/subtrees', { subtree: s, sigs: [owner!, a!, b!].map((k) => ({ signer: k.publicKey, sig: signDigestHex(k, d) })) });
    expect(created.status).toBe(201);
    const subtree = subtreeIdHex(s as never);
    const client = new DstpClient({ baseUrl: node.url });
    const dir = mkdtempSync(join(tmpdir(), 'dstp-cosign-js-'));
    const dbs: Database[] = [];
    try {
      const open = async (k: typeof a, name: string) => {
        const db = await openDatabase({ url: `file:${join(dir, `${name}.db`)}` });
        dbs.push(db);
        return Cosigner.open({ client, subtree, key: k!, db });
      };
      const ca = await open(a, 'a');
      const cb = await open(b, 'b');
      const t = signTransaction({ network: NETWORK, subtree, key: user!, nonce: 0, call: 'increment', args: { by: 2 } });
      expect((await post('/v1/transactions', t.envelope)).status).toBe(202);
      expect((await fetch(`${node.url}/v1/leader/tick`, { method: 'POST', headers: admin })).status).toBe(200);
      expect((await ca.step()).status).toBe('signed');
      expect((await cb.step()).status).toBe('signed');
      const tx = (await (await fetch(`${node.url}/v1/transactions/${t.id}`)).json()) as { status: string; receipt: { gas: number } };
      expect(tx.status).toBe('executed');
      expect(tx.receipt.gas).toBeGreaterThan(0);

      // The node now serves a different source under the same id: a new co-signer refuses it.
      await node.ctx!.db.write((w) => w.execute({ sql: 'UPDATE programs SET source = ? WHERE id = ?', args: [counter.replace('limit_reached', 'no_limit'), up.id] }));
      await expect(open(c, 'c')).rejects.toThrow('do not hash');
    } finally {
      for (const db of dbs) await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test('DSTP_MAX_ROUND_GAS bounds a round: at most floor(max / gasLimit) transactions, the rest wait', async () => {
    const capped = await startServer({ env: { DSTP_MAX_ROUND_GAS: '10000000' } });
    try {
      const p = (path: string, body: unknown) => fetch(`${capped.url}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
      const up = (await (await p('/v1/programs', { source: counter })).json()) as { id: string };
      const owner = generateKey('ed25519');
      const user = generateKey('ed25519');
      const s = {
        v: 1, network: NETWORK, parent: ROOT_ID_HEX, owner: owner.publicKey, name: 'capped', program: `js:${up.id}`,
        config: { perSender: 10, maxStep: 1, gasLimit: 5_000_000 }, mode: { type: 'poa', authority: capped.nodeKey }, genesis: [],
      };
      expect((await p('/v1/subtrees', { subtree: s, sigs: [{ signer: owner.publicKey, sig: signDigestHex(owner, digest('subtree', s)) }] })).status).toBe(201);
      const subtree = subtreeIdHex(s as never);
      const ids: string[] = [];
      for (let nonce = 0; nonce < 3; nonce++) {
        const t = signTransaction({ network: NETWORK, subtree, key: user, nonce, call: 'increment', args: { by: 1 } });
        expect((await p('/v1/transactions', t.envelope)).status).toBe(202);
        ids.push(t.id);
      }
      const statuses = async () => Promise.all(ids.map(async (id) => ((await (await fetch(`${capped.url}/v1/transactions/${id}`)).json()) as { status: string }).status));
      await fetch(`${capped.url}/v1/leader/tick`, { method: 'POST', headers: admin });
      expect(await statuses()).toEqual(['executed', 'executed', 'pending']);
      await fetch(`${capped.url}/v1/leader/tick`, { method: 'POST', headers: admin });
      expect(await statuses()).toEqual(['executed', 'executed', 'executed']);
    } finally {
      await capped.close();
    }
  }, 120_000);
});
