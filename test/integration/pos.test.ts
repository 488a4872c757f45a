/**
 * Proof-of-stake subtrees over the real HTTP API (in-process node on 127.0.0.1, leader passes
 * driven by POST /v1/leader/tick), with four validators of unequal stake run by the co-signer
 * library — each with its own libSQL replica, re-executing every proposal before signing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubtreeRequest, DstpClient, generateKey, signSubtreeRequest, signTransaction, type KeyPair } from '../../src/client/index.ts';
import { Cosigner, type CosignEvent } from '../../src/cosigner/index.ts';
import { chooseProposer } from '../../src/core/consensus/pos.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { signDigest } from '../../src/core/keys.ts';
import { replay } from '../../src/core/replay.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { parseRoundHeader, roundHash, type RoundHeader } from '../../src/core/round.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { openDatabase } from '../../src/store/db.ts';
import type { Database } from '../../src/store/index.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let dir: string;
let client: DstpClient;
let subtree: string;
const dbs: Database[] = [];

const A = generateKey('ed25519');
const B = generateKey('secp256k1');
const C = generateKey('bip340');
const D = generateKey('ed25519');
const owner = generateKey('ed25519');
const writer = generateKey('ed25519');
const stakes: [KeyPair, string][] = [
  [A, '40'],
  [B, '30'],
  [C, '20'],
  [D, '10'],
];
const names = new Map([A, B, C, D].map((k, i) => [k.publicKey, 'ABCD'[i]!]));
const cos = new Map<string, Cosigner>();
const events = new Map<string, CosignEvent[]>();
let nonce = 0;

async function send(key: KeyPair, c: string, args: Record<string, JsonValue>, n?: number): Promise<string> {
  const t = signTransaction({ network: srv.network, subtree, key, nonce: n ?? nonce, call: c, args });
  const r = await call(srv.url, 'POST', '/v1/transactions', { json: t.envelope });
  expect(r.status).toBe(202);
  if (n === undefined) nonce++;
  return t.id;
}
const tick = () => call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
const open = async () => (await client.listProposals(subtree, { status: 'open' })).items[0];
const head = async () => client.getSubtree(subtree);
const txStatus = async (id: string) => (await client.getTransaction(id)).status;
const step = async (...keys: KeyPair[]) => {
  const out: string[] = [];
  for (const k of keys) out.push((await cos.get(k.publicKey)!.step()).status);
  return out;
};
const consensus = async () => (await client.getState(subtree, 'sys/consensus')).value as { mode: { validators: { key: string; stake: string }[] }; slashed?: string[]; free?: Record<string, string>; pending?: unknown[] } | undefined;
const validatorsNow = async () => ((await consensus())?.mode.validators ?? stakes.map(([k, s]) => ({ key: k.publicKey, stake: s }))).map((v) => `${names.get(v.key)}${v.stake}`);

/** Proposes the pending transactions and has the given validators co-sign; returns the proposal. */
async function round(signers: KeyPair[]) {
  await tick();
  const p = await open();
  expect(p).toBeDefined();
  await step(...signers);
  return p!;
}

beforeAll(async () => {
  srv = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'dstp-pos-'));
  client = new DstpClient({ baseUrl: srv.url });
  const spec = buildSubtreeRequest({
    network: srv.network,
    owner: owner.publicKey,
    name: 'staked',
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'pos', validators: stakes.map(([k, s]) => ({ key: k.publicKey, stake: s })), epochRounds: 4, slashBps: 5000 },
    genesis: [],
  });
  // > 2/3 of the stake must sign the creation: A and B hold 70 of 100.
  const r = await call(srv.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, A, B]) });
  expect(r.status).toBe(201);
  subtree = r.body.id;
  for (const [k] of stakes) {
    const db = await openDatabase({ url: `file:${join(dir, `${names.get(k.publicKey)}.db`)}` });
    dbs.push(db);
    const list: CosignEvent[] = [];
    events.set(k.publicKey, list);
    cos.set(k.publicKey, await Cosigner.open({ client, subtree, key: k, db, onEvent: (e) => list.push(e) }));
  }
});

afterAll(async () => {
  for (const db of dbs) await db.close();
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pos: proposer, finality, evidence, stake', () => {
  test('each round names the validator drawn by stake from H(prev); <= 2/3 of the stake is not final, > 2/3 is', async () => {
    const tx = await send(writer, 'set', { key: 'a', value: 1 });
    await tick();
    const p = (await open())!;
    const genesis = await client.getRound(subtree, 0);
    const prev = toHex(roundHash(parseRoundHeader(genesis.header)));
    const vals = stakes.map(([k, s]) => ({ key: k.publicKey, stake: s }));
    expect(p.header.proposer).toBe(chooseProposer(vals, fromHex(prev, 32)));
    expect(p.signatures).toEqual([]); // the node holds no stake

    expect(await step(B, C, D)).toEqual(['signed', 'signed', 'signed']); // 60 of 100
    expect((await open())!.signatures.length).toBe(3);
    expect(await txStatus(tx)).toBe('pending');
    expect((await head()).height).toBe(0);
    await step(A); // 100 of 100
    expect(await txStatus(tx)).toBe('executed');
    expect(events.get(A.publicKey)!.filter((e) => e.type === 'signed').map((e) => (e as { status: number }).status)).toEqual([201]);

    // More rounds: every proposer follows the rule; A + B (70) finalize, A + C + D (70) too.
    for (let i = 0; i < 6; i++) {
      await send(writer, 'set', { key: `k${i}`, value: i });
      const q = await round(i % 2 === 0 ? [A, B] : [A, C, D]);
      const r = await client.getRound(subtree, q.height);
      expect(r.header.proposer).toBe(chooseProposer(vals, fromHex(r.header.prev, 32)));
    }
    expect((await head()).height).toBe(7);
    for (const c of cos.values()) await c.step();
    for (const [k, list] of events) expect({ k: names.get(k), bad: list.filter((e) => e.type === 'refused' || e.type === 'fork') }).toEqual({ k: names.get(k), bad: [] });
  });

  test('equivocation evidence: bad input is refused without a trace; valid evidence slashes once, in the next round; later signatures do not count', async () => {
    await send(writer, 'set', { key: 'e', value: 'x' });
    await tick();
    const p = (await open())!;
    // C signs the real proposal and a second header for the same height.
    const real = parseRoundHeader(p.header);
    const other: RoundHeader = { ...real, time: real.time + 1 };
    const signC = (h: RoundHeader) => toHex(signDigest(C.scheme, fromHex(C.secret, 32), roundHash(h)));
    const evidence = { validator: C.publicKey, a: { header: real, sig: signC(real) }, b: { header: other, sig: signC(other) } };
    const post = (body: unknown) => call(srv.url, 'POST', '/v1/evidence', { json: body });

    const third: RoundHeader = { ...real, time: real.time + 2 };
    const bad: [string, unknown, number, string][] = [
      ['same header twice', { ...evidence, b: evidence.a }, 400, 'invalid_evidence'],
      ['other heights', { ...evidence, b: { header: { ...other, height: 99 }, sig: signC({ ...other, height: 99 }) } }, 400, 'invalid_evidence'],
      ['signature by someone else', { ...evidence, b: { header: other, sig: toHex(signDigest(D.scheme, fromHex(D.secret, 32), roundHash(other))) } }, 400, 'invalid_evidence'],
      ['not a validator', { validator: writer.publicKey, a: { header: real, sig: toHex(signDigest('ed25519', fromHex(writer.secret, 32), roundHash(real))) }, b: { header: other, sig: toHex(signDigest('ed25519', fromHex(writer.secret, 32), roundHash(other))) } }, 400, 'invalid_evidence'],
      ['missing part', { validator: C.publicKey, a: evidence.a }, 400, 'invalid_evidence'],
      ['extra field', { ...evidence, note: 'x' }, 400, 'invalid_evidence'],
      ['unknown subtree', { validator: C.publicKey, a: { header: { ...real, subtree: 'ab'.repeat(32) }, sig: signC({ ...real, subtree: 'ab'.repeat(32) }) }, b: { header: { ...other, subtree: 'ab'.repeat(32) }, sig: signC({ ...other, subtree: 'ab'.repeat(32) }) } }, 404, 'unknown_subtree'],
      ['other network', { validator: C.publicKey, a: { header: { ...real, network: 'elsewhere' }, sig: signC({ ...real, network: 'elsewhere' }) }, b: { header: { ...other, network: 'elsewhere' }, sig: signC({ ...other, network: 'elsewhere' }) } }, 400, 'network_mismatch'],
    ];
    const logBefore = (await head()).logSize as number;
    for (const [what, body, status, code] of bad) {
      const r = await post(body);
      expect({ what, status: r.status, type: r.type, code: r.body.code }).toEqual({ what, status, type: 'application/problem+json', code });
    }
    expect((await head()).logSize).toBe(logBefore);

    const ok = await post(evidence);
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ subtree, validator: C.publicKey, height: p.height });
    const replayed = await post(evidence);
    expect([replayed.status, replayed.body.code]).toEqual([409, 'evidence_known']);
    const swapped = await post({ ...evidence, a: evidence.b, b: evidence.a });
    expect([swapped.status, swapped.body.code]).toEqual([409, 'evidence_known']);
    const another = await post({ ...evidence, b: { header: third, sig: signC(third) } });
    expect([another.status, another.body.code]).toEqual([409, 'already_slashed']);
    expect((await head()).logSize).toBe(logBefore + 1); // exactly one slash transaction

    // Honest validators never sign a second header at a height; the open round finalizes (A + B),
    // and the next one executes the slash.
    await step(A, B);
    expect(await txStatus(ok.body.tx)).toBe('pending');
    await round([A, B]);
    expect((await client.getTransaction(ok.body.tx)).receipt).toMatchObject({ status: 'ok' });
    expect(await validatorsNow()).toEqual(['A40', 'B30', 'D10']);
    const st = (await consensus())!;
    expect(st.slashed).toEqual([C.publicKey]);
    expect(st.free).toEqual({ [C.publicKey]: '10' }); // 20 at 50 %: burned once

    // C's signature no longer counts: refused at the endpoint, ignored by its own co-signer.
    await send(writer, 'set', { key: 'f', value: 1 });
    await tick();
    const q = (await open())!;
    const cSig = await call(srv.url, 'POST', `/v1/subtrees/${subtree}/rounds/${q.height}/signatures`, {
      json: { signer: C.publicKey, sig: signC(parseRoundHeader(q.header)) },
    });
    expect([cSig.status, cSig.body.code]).toEqual([403, 'not_a_signer']);
    expect(q.signers).toEqual([A.publicKey, B.publicKey, D.publicKey]);
    await step(C);
    expect(events.get(C.publicKey)!.some((e) => e.type === 'not_a_signer' && e.hash === q.hash)).toBe(true);
    await step(A, D); // 50 of 80: not final
    expect((await open())?.hash).toBe(q.hash);
    await step(B); // 80 of 80
    expect((await head()).height).toBe(q.height);
  });

  test('unstake takes effect at the next epoch boundary, not before', async () => {
    // epochRounds = 4: heights 9..12 are epoch 2, 13.. epoch 3.
    const h0 = (await head()).height;
    const id = await send(A, 'unstake', { amount: '30' }, 0);
    const p = await round([A, B]);
    expect(p.height).toBe(h0 + 1);
    expect((await client.getTransaction(id)).receipt).toMatchObject({ status: 'ok' });
    const from = (Math.floor((p.height - 1) / 4) + 1) * 4 + 1;
    expect((await consensus())!.pending).toEqual([{ key: A.publicKey, delta: '-30', from }]);
    // Until `from`, A still holds 40: B + D (40 of 80) cannot finalize; A + B can.
    let before = 0;
    while ((await head()).height + 1 < from) {
      before++;
      await send(writer, 'set', { key: `pre${(await head()).height}`, value: 1 });
      await tick();
      await step(B, D);
      expect((await open()) !== undefined).toBe(true);
      await step(A);
    }
    expect(before).toBeGreaterThan(0);
    // From `from` on: A 10, B 30, D 10 — B + D (40 of 50) are a supermajority.
    await send(writer, 'set', { key: 'post', value: 1 });
    await tick();
    await step(B, D);
    expect((await head()).height).toBe(from);
    expect((await client.getRound(subtree, from)).signatures.map((s) => names.get(s.signer))).toEqual(['B', 'D']);
  });

  test('every co-signer replica and a fresh replay agree with the node', async () => {
    for (const c of cos.values()) await c.step();
    const h = await head();
    for (const c of cos.values()) expect([c.height, c.root]).toEqual([h.height, h.root]);
    const rounds = [];
    for (let i = 1; i <= h.height; i++) {
      const r = await client.getRound(subtree, i);
      const txs = await Promise.all((r.txs ?? []).map(async (id) => ({ id, tx: (await client.getTransaction(id)).envelope!.tx })));
      rounds.push({ header: parseRoundHeader(r.header), txs });
    }
    const result = await replay({ store: new MemoryNodeStore(), subtree: parseSubtreeRequest(h.request, NATIVE_PROGRAMS).subtree, genesis: parseRoundHeader((await client.getRound(subtree, 0)).header), rounds });
    expect(result.mismatches).toEqual([]);
    expect(result.rounds.at(-1)!.stateRoot).toBe(h.root);
  });
});
