/**
 * Replaying a user-program subtree outside the node (SPEC §7.1, §8), as an auditor would: read
 * the creation request, rounds and log over HTTP from a real node, fetch the program with
 * `programsFromNode` (GET /v1/programs/:id, the id checked against engine and source), and
 * re-execute from genesis in this process's own sandbox: every round's roots and every receipt,
 * gas included, come out exactly. A node serving another source for the id is caught, and an
 * engine this process lacks leaves the program unknown.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DstpClient } from '../../src/client/http.ts';
import { sha256 } from '../../src/core/hash.ts';
import { programId } from '../../src/core/program-id.ts';
import { replay } from '../../src/core/replay.ts';
import { parseRoundHeader } from '../../src/core/round.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import type { IdentifiedTx } from '../../src/core/tx.ts';
import { programsFromNode } from '../../src/platform/sandbox/node-programs.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { adminHeader, call, party, REPO_ROOT, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

const source = readFileSync(join(REPO_ROOT, 'examples', 'programs', 'token.js'), 'utf8');
const minter = party('replay-js-minter');
const bob = party('replay-js-bob');
let s: TestServer;
let subtree: string;
let program: string;

beforeAll(async () => {
  s = await startServer();
  const up = await call(s.url, 'POST', '/v1/programs', { json: { source }, headers: adminHeader() });
  program = `js:${up.body.id}`;
  const r = subtreeRequest({
    network: s.network,
    owner: minter,
    name: 'replayed',
    program,
    config: { symbol: 'RP', decimals: 0, minter: minter.key },
    authority: s.nodeKey,
    genesis: [{ key: `balance/${minter.key}`, value: '50' }, { key: 'supply', value: '50' }],
  });
  subtree = r.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() })).status).toBe(201);
  const tick = async () => expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
  const send = async (txs: ReturnType<typeof signedTx>[]) => {
    const b = await call(s.url, 'POST', '/v1/transactions/batch', { json: { txs } });
    expect(b.body.items.every((i: { status: number }) => i.status === 202)).toBe(true);
  };
  const tx = (from: typeof minter, nonce: number, c: string, args: Record<string, string>) => signedTx(from, { network: s.network, subtree, nonce, call: c, args });
  await send([tx(minter, 0, 'transfer', { to: bob.key, amount: '20' }), tx(minter, 1, 'mint', { to: bob.key, amount: '5' })]);
  await tick();
  // Bob spends 20 twice in one batch: both admitted, the second fails in execution.
  await send([tx(bob, 0, 'transfer', { to: minter.key, amount: '20' }), tx(bob, 1, 'transfer', { to: minter.key, amount: '20' }), tx(bob, 2, 'burn', { amount: '5' })]);
  await tick();
});

afterAll(async () => {
  await s?.close();
});

describe('replay of a user-program subtree from what a node serves', () => {
  test('every round and receipt, gas included, comes out exactly', async () => {
    const client = new DstpClient({ baseUrl: s.url });
    const head = await client.getSubtree(subtree);
    const programs = programsFromNode(client, { hash: sha256 });
    await programs.load(program);
    const spec = parseSubtreeRequest(head.request, programs).subtree;
    const rounds = (await client.listRounds(subtree, { order: 'asc', limit: 100 })).items;
    const log = new Map((await client.getLog(subtree, { from: 0, limit: 100 })).items.map((e) => [e.id, e.envelope.tx]));
    expect(rounds.map((r) => r.header.height)).toEqual([0, 1, 2]);
    const result = await replay({
      subtree: spec,
      genesis: parseRoundHeader(rounds[0]!.header),
      rounds: rounds.slice(1).map((r) => ({ header: parseRoundHeader(r.header), txs: (r.txs ?? []).map((id) => ({ id, tx: log.get(id)! }) as IdentifiedTx) })),
      store: new MemoryNodeStore(),
      programs,
    });
    expect(result.mismatches).toEqual([]);
    expect(result.ok).toBe(true);
    const receipts = result.rounds.flatMap((r) => r.receipts);
    expect(receipts.map((r) => (r.status === 'failed' ? r.code : r.status))).toEqual(['ok', 'ok', 'ok', 'insufficient_balance', 'ok']);
    for (const r of receipts) {
      expect(r.gas).toBeGreaterThan(0);
      expect((await client.getTransaction(r.tx)).receipt).toEqual(r);
    }
  });

  test('a node serving another source for the id is caught; an engine this process lacks leaves the program unknown', async () => {
    const client = new DstpClient({ baseUrl: s.url });
    const liar = { getProgram: async (id: string) => ({ ...(await client.getProgram(id)), source: source + '\n// altered\n' }) };
    await expect(programsFromNode(liar, { hash: sha256 }).load(program)).rejects.toThrow(/do not hash to its id/);

    const engine = 'quickjs-wasm/0.0.1/ffffffffffffffff';
    const foreign = programId(engine, source, sha256);
    const other = programsFromNode({ getProgram: async (id) => ({ id, engine, source }) }, { hash: sha256 });
    await other.load(`js:${foreign}`);
    expect(other.get(`js:${foreign}`)).toBeUndefined();
    const head = await client.getSubtree(subtree);
    const req = structuredClone(head.request) as { subtree: { program: string } };
    req.subtree.program = `js:${foreign}`;
    expect(() => parseSubtreeRequest(req, other)).toThrow(/unknown program/);
  });
});
