/**
 * Multisig subtrees over the real HTTP API of an in-process node (scheduler off: the test drives
 * leader passes with POST /v1/leader/tick). Co-signatures are made here with the signers' keys;
 * the co-signer process that re-executes before signing is exercised in test/reliability.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { digest } from '../../src/core/digest.ts';
import { sha256 } from '../../src/core/hash.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import { jcs, type JsonValue } from '../../src/core/jcs.ts';
import { signDigest, verifyDigest } from '../../src/core/keys.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { roundHash, parseRoundHeader } from '../../src/core/round.ts';
import { subtreeId } from '../../src/core/subtree-request.ts';
import { listEvents } from '../../src/store/events.ts';
import { adminHeader, call, party, signedTx, startServer, type Party, type TestServer } from '../helpers/server.ts';

const owner = party('ms-owner');
const s1 = party('ms-signer-1');
const s2 = party('ms-signer-2', 'secp256k1');
const s3 = party('ms-signer-3');
const s4 = party('ms-signer-4');
const stranger = party('ms-stranger');
const writer = party('ms-writer');

let srv: TestServer;
let subtree: string;
const nonces = new Map<string, number>();

function sign(p: Party, d: Uint8Array): string {
  return toHex(signDigest(p.scheme, p.secret, d));
}

async function createMultisig(name: string, timeoutMs: number): Promise<string> {
  const spec = {
    v: 1,
    network: srv.network,
    parent: ROOT_ID_HEX,
    owner: owner.key,
    name,
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'multisig', signers: [s1.key, s2.key, s3.key], threshold: 2, proposalTimeoutMs: timeoutMs },
    genesis: [{ key: 'kv/start', value: 0 }],
  };
  const d = digest('subtree', spec);
  const sigs = [owner, s1, s2].map((p) => ({ signer: p.key, sig: sign(p, d) }));
  const r = await call(srv.url, 'POST', '/v1/subtrees', { json: { subtree: spec, sigs } });
  expect(r.status).toBe(201);
  expect(r.body.id).toBe(toHex(subtreeId(spec)));
  return r.body.id;
}

async function send(from: Party, call_: string, args: Record<string, JsonValue>, sub = subtree) {
  const k = `${sub}/${from.key}`;
  const nonce = nonces.get(k) ?? 0;
  const r = await call(srv.url, 'POST', '/v1/transactions', { json: signedTx(from, { network: srv.network, subtree: sub, nonce, call: call_, args }) });
  if (r.status === 202) nonces.set(k, nonce + 1);
  return r;
}

const tick = () => call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
const openProposal = async (sub = subtree) => (await call(srv.url, 'GET', `/v1/subtrees/${sub}/proposals?status=open`)).body.items[0];
const postSig = (height: number, body: unknown, sub = subtree) => call(srv.url, 'POST', `/v1/subtrees/${sub}/rounds/${height}/signatures`, { json: body });
const cosign = (p: Party, prop: { hash: string; height: number }, sub = subtree) => postSig(prop.height, { signer: p.key, sig: sign(p, fromHex(prop.hash, 32)) }, sub);
const expiryVote = (p: Party, prop: { hash: string; height: number }, sub = subtree) =>
  call(srv.url, 'POST', `/v1/subtrees/${sub}/rounds/${prop.height}/expiries`, {
    json: { signer: p.key, round: prop.hash, sig: sign(p, digest('expire', { v: 1, network: srv.network, subtree: sub, height: prop.height, round: prop.hash })) },
  });
const state = (key: string, sub = subtree) => call(srv.url, 'GET', `/v1/subtrees/${sub}/state/${key}`);
const head = async (sub = subtree) => (await call(srv.url, 'GET', `/v1/subtrees/${sub}`)).body;

async function events(type: string, sub = subtree) {
  return (await listEvents(srv.ctx!.db, { limit: 10_000 })).filter((e) => e.type === type && e.subtree === sub);
}

beforeAll(async () => {
  srv = await startServer();
  subtree = await createMultisig('ms-app', 1000);
});
afterAll(async () => {
  await srv.close();
});

describe('multisig: proposals and co-signatures', () => {
  test('a round is final, and its effects visible, only at threshold distinct valid signatures', async () => {
    const tx = await send(writer, 'set', { key: 'x', value: 1 });
    expect(tx.status).toBe(202);
    const t = await tick();
    expect(t.body.rounds).toEqual([expect.objectContaining({ subtree, height: 1, status: 'proposed', txCount: 1 })]);
    const p = await openProposal();
    expect(p).toMatchObject({ height: 1, status: 'open', txs: [tx.body.id], signatures: [] });
    expect(p.signers).toEqual([s1.key, s2.key, s3.key]);
    expect(p.hash).toBe(toHex(roundHash(parseRoundHeader(p.header))));

    expect((await state('kv/x')).body.exists).toBe(false);
    expect((await cosign(s1, p)).status).toBe(202);
    expect((await cosign(s1, p)).status).toBe(200); // a duplicate is idempotent
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.body.id}`)).body.status).toBe('pending');
    expect((await state('kv/x')).body.exists).toBe(false);
    expect((await head()).height).toBe(0);

    const done = await cosign(s2, p);
    expect(done.status).toBe(201);
    expect(done.body.status).toBe('final');
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.body.id}`)).body).toMatchObject({ status: 'executed', height: 1 });
    const x = await state('kv/x');
    expect(x.body).toMatchObject({ exists: true, value: 1, height: 1 });
    const round = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/rounds/1`)).body;
    const h = roundHash(parseRoundHeader(round.header));
    expect(round.signatures.map((s: { signer: string }) => s.signer)).toEqual([s1.key, s2.key]);
    for (const s of round.signatures) expect(verifyDigest(s.signer, h, fromHex(s.sig, 64))).toBe(true);
    expect((await events('round.finalized')).map((e) => (e.data as { height: number }).height)).toEqual([1]);
  });

  test('bad co-signatures get stable problem codes and change nothing', async () => {
    await send(writer, 'set', { key: 'y', value: 2 });
    await tick();
    const p = await openProposal();
    const cases: [string, number, unknown, number, string][] = [
      ['non-member', p.height, { signer: stranger.key, sig: sign(stranger, fromHex(p.hash, 32)) }, 403, 'not_a_signer'],
      ['the owner is no signer', p.height, { signer: owner.key, sig: sign(owner, fromHex(p.hash, 32)) }, 403, 'not_a_signer'],
      ['wrong height', p.height + 1, { signer: s1.key, sig: sign(s1, fromHex(p.hash, 32)) }, 404, 'not_found'],
      ['past height', p.height - 1, { signer: s3.key, sig: sign(s3, fromHex(p.hash, 32)) }, 404, 'not_found'],
      ['signature over another digest', p.height, { signer: s1.key, sig: sign(s1, sha256(utf8('other'))) }, 401, 'bad_signature'],
      ['signature by another member', p.height, { signer: s1.key, sig: sign(s3, fromHex(p.hash, 32)) }, 401, 'bad_signature'],
      ['malformed sig', p.height, { signer: s1.key, sig: 'zz' }, 400, 'validation_failed'],
      ['extra field', p.height, { signer: s1.key, sig: sign(s1, fromHex(p.hash, 32)), x: 1 }, 400, 'invalid_request'],
    ];
    for (const [what, height, body, status, code] of cases) {
      const r = await postSig(height, body);
      expect({ what, status: r.status, type: r.type, code: r.body.code }).toEqual({ what, status, type: 'application/problem+json', code });
    }
    const after = await openProposal();
    expect(after.signatures).toEqual([]);
    expect(after.hash).toBe(p.hash);
    expect((await cosign(s3, p)).status).toBe(202);
    expect((await cosign(s1, p)).status).toBe(201);
  });
});

describe('multisig: non-cooperation', () => {
  test('proposals expire only by a certificate of threshold expiry votes; transactions stay pending; the 3rd in a row halts; a threshold-signed resume lifts it', async () => {
    const sub = await createMultisig('ms-halt', 1000);
    const a = await send(writer, 'set', { key: 'a', value: 'A' }, sub);
    const b = await send(writer, 'set', { key: 'b', value: 'B' }, sub);
    await tick();
    const hashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await openProposal(sub);
      expect(p.txs).toEqual([a.body.id, b.body.id]); // the same transactions, in log order, each time
      hashes.push(p.hash);
      if (i === 0) {
        expect((await cosign(s1, p, sub)).status).toBe(202); // one signature is not enough
        // The node's clock expires nothing: long past proposalTimeoutMs, the proposal is still open.
        await Bun.sleep(1100);
        await tick();
        expect((await openProposal(sub)).hash).toBe(p.hash);
        // A signer that signed it cannot vote to expire it.
        const mine = await expiryVote(s1, p, sub);
        expect([mine.status, mine.body.code]).toEqual([409, 'conflict']);
      }
      const first = await expiryVote(s2, p, sub);
      expect([first.status, first.body.status, first.body.votes.length]).toEqual([202, 'open', 1]);
      expect((await expiryVote(s2, p, sub)).status).toBe(200); // known
      // A signer that voted to expire it can no longer sign it.
      const late = await cosign(s2, p, sub);
      expect([late.status, late.body.code]).toEqual([409, 'conflict']);
      const done = await expiryVote(s3, p, sub);
      expect([done.status, done.body.status, done.body.threshold]).toEqual([201, 'expired', 2]);
      expect((await events('proposal.expired', sub)).length).toBe(i + 1);
      for (const id of [a.body.id, b.body.id]) expect((await call(srv.url, 'GET', `/v1/transactions/${id}`)).body.status).toBe('pending');
      await tick();
    }
    const expired = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/proposals?status=expired`)).body.items;
    expect(expired.map((p: { hash: string }) => p.hash)).toEqual(hashes);
    // Each expired proposal carries its certificate: t valid votes over digest("expire", …).
    for (const p of expired) {
      expect(p.certificate.expire).toEqual({ v: 1, network: srv.network, subtree: sub, height: 1, round: p.hash });
      expect(p.certificate.sigs.map((x: { signer: string }) => x.signer)).toEqual([s2.key, s3.key]);
      const d = digest('expire', p.certificate.expire);
      for (const v of p.certificate.sigs) expect(verifyDigest(v.signer, d, fromHex(v.sig, 64))).toBe(true);
    }
    expect((await events('subtree.halted', sub)).map((e) => e.data)).toEqual([{ subtree: sub, height: 0, halt: 1, expiries: 3 }]);
    expect((await head(sub)).status).toBe('halted');
    expect(await openProposal(sub)).toBeUndefined();
    const refused = await send(writer, 'set', { key: 'c', value: 'C' }, sub);
    expect([refused.status, refused.body.code]).toEqual([409, 'subtree_halted']);
    // A late signature for an expired proposal changes nothing.
    expect((await cosign(s1, { hash: hashes[2]!, height: 1 }, sub)).status).toBe(404);

    const rv = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/resume`)).body;
    const genesis = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/rounds/0`)).body;
    expect(rv.resume).toEqual({ v: 1, network: srv.network, subtree: sub, action: 'resume', height: 0, halt: 1, round: genesis.hash });
    const d = sha256(concatBytes(utf8('DSTP/resume/v1\n'), utf8(jcs(rv.resume))));
    expect(rv.digest).toBe(toHex(d));
    const resume = (sigs: { signer: string; sig: string }[]) => call(srv.url, 'POST', `/v1/subtrees/${sub}/resume`, { json: { sigs } });
    for (const [sigs, status, code] of [
      [[{ signer: stranger.key, sig: sign(stranger, d) }], 403, 'not_a_signer'],
      [[{ signer: s1.key, sig: sign(s1, sha256(utf8('x'))) }], 401, 'bad_signature'],
      [[{ signer: s1.key, sig: sign(s1, d) }, { signer: s2.key, sig: sign(s3, d) }], 401, 'bad_signature'],
      [[{ signer: s1.key, sig: 'zz' }], 400, 'validation_failed'],
      [[], 400, 'validation_failed'],
    ] as const) {
      const r = await resume([...sigs]);
      expect([r.status, r.body.code]).toEqual([status, code]);
    }
    expect((await call(srv.url, 'GET', `/v1/subtrees/${sub}/resume`)).body.signatures).toEqual([]);
    const first = await resume([{ signer: s1.key, sig: sign(s1, d) }]);
    expect([first.status, first.body.status]).toEqual([202, 'halted']);
    const second = await resume([{ signer: s3.key, sig: sign(s3, d) }]);
    expect([second.status, second.body.status]).toEqual([200, 'active']);
    expect((await head(sub)).status).toBe('active');
    expect((await events('subtree.resumed', sub)).length).toBe(1);
    expect((await resume([{ signer: s3.key, sig: sign(s3, d) }])).status).toBe(200); // retry of a counted signature
    expect((await resume([{ signer: s2.key, sig: sign(s2, d) }])).body.code).toBe('subtree_not_halted');

    // After the resume the same pending transactions are proposed once more and finalize once.
    await tick();
    const p = await openProposal(sub);
    expect(p.txs).toEqual([a.body.id, b.body.id]);
    expect((await cosign(s1, p, sub)).status).toBe(202);
    expect((await cosign(s3, p, sub)).status).toBe(201);
    expect((await state('kv/b', sub)).body).toMatchObject({ value: 'B', height: 1 });
    const log = await call(srv.url, 'GET', `/v1/subtrees/${sub}/rounds/1`);
    expect(log.body.txs).toEqual([a.body.id, b.body.id]);
    // A single expiry after a resume does not halt again.
    await send(writer, 'set', { key: 'c', value: 'C' }, sub);
    await tick();
    const q = await openProposal(sub);
    await expiryVote(s1, q, sub);
    expect((await expiryVote(s2, q, sub)).status).toBe(201);
    await tick();
    expect((await head(sub)).status).toBe('active');
    expect((await openProposal(sub)).hash).not.toBe(q.hash);
  }, 30_000);

  test('bad expiry votes get stable problem codes and change nothing', async () => {
    const sub = await createMultisig('ms-bad-votes', 1000);
    await send(writer, 'set', { key: 'v', value: 1 }, sub);
    await tick();
    const p = await openProposal(sub);
    const vote = (who: Party, round: string, height = 1) => ({ signer: who.key, round, sig: sign(who, digest('expire', { v: 1, network: srv.network, subtree: sub, height, round })) });
    const cases: [string, number, unknown, number, string][] = [
      ['non-member', 1, vote(stranger, p.hash), 403, 'not_a_signer'],
      ['vote over another height', 1, { ...vote(s1, p.hash, 2), round: p.hash }, 401, 'bad_signature'],
      ['vote by another key', 1, { ...vote(s2, p.hash), signer: s1.key }, 401, 'bad_signature'],
      ['unknown round', 1, vote(s1, 'ab'.repeat(32)), 404, 'not_found'],
      ['height not open', 2, vote(s1, p.hash, 2), 404, 'not_found'],
      ['malformed sig', 1, { signer: s1.key, round: p.hash, sig: 'zz' }, 400, 'validation_failed'],
      ['malformed round', 1, { ...vote(s1, p.hash), round: 'XY' }, 400, 'validation_failed'],
      ['extra field', 1, { ...vote(s1, p.hash), x: 1 }, 400, 'invalid_request'],
    ];
    for (const [what, height, body, status, code] of cases) {
      const r = await call(srv.url, 'POST', `/v1/subtrees/${sub}/rounds/${height}/expiries`, { json: body });
      expect({ what, status: r.status, type: r.type, code: r.body.code }).toEqual({ what, status, type: 'application/problem+json', code });
    }
    expect((await srv.ctx!.db.read.execute({ sql: 'SELECT count(*) FROM expiry_votes WHERE subtree = ?', args: [sub] })).rows[0]![0]).toBe(0);
    expect((await openProposal(sub)).hash).toBe(p.hash);
  });
});

describe('multisig: signer-set changes are transactions finalized by the current threshold', () => {
  test('set_signers votes: the change applies once the threshold voted, from the next round; old keys stop counting', async () => {
    const sub = await createMultisig('ms-rotate', 5000);
    const change = { signers: [s1.key, s2.key, s4.key], threshold: 2 };
    const bad = await send(s1, 'set_signers', { signers: [s1.key], threshold: 2 }, sub);
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_args']);
    const outsiderVote = await send(stranger, 'set_signers', change, sub);
    const v1 = await send(s1, 'set_signers', change, sub);
    await tick();
    let p = await openProposal(sub);
    await cosign(s1, p, sub);
    expect((await cosign(s3, p, sub)).status).toBe(201);
    expect((await call(srv.url, 'GET', `/v1/transactions/${outsiderVote.body.id}`)).body.receipt).toMatchObject({ status: 'failed', code: 'not_a_signer' });
    expect((await call(srv.url, 'GET', `/v1/transactions/${v1.body.id}`)).body.receipt).toMatchObject({ status: 'ok' });

    // The second vote completes the change; its own round is still signed by the old set (s2 + s3).
    await send(s2, 'set_signers', change, sub);
    await tick();
    p = await openProposal(sub);
    expect(p.signers).toEqual([s1.key, s2.key, s3.key]);
    expect((await cosign(s4, p, sub)).body.code).toBe('not_a_signer');
    await cosign(s2, p, sub);
    expect((await cosign(s3, p, sub)).status).toBe(201);
    const st = (await state('sys/consensus', sub)).body;
    expect(st.value).toEqual({ mode: { type: 'multisig', ...change, proposalTimeoutMs: 5000 } });

    // From the next round on: s4 counts, s3 does not.
    await send(writer, 'set', { key: 'after', value: true }, sub);
    await tick();
    p = await openProposal(sub);
    expect(p.signers).toEqual(change.signers);
    const old = await cosign(s3, p, sub);
    expect([old.status, old.body.code]).toEqual([403, 'not_a_signer']);
    expect((await cosign(s4, p, sub)).status).toBe(202);
    expect((await cosign(s1, p, sub)).status).toBe(201);
    const r = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/rounds/${p.height}`)).body;
    expect(r.signatures.map((s: { signer: string }) => s.signer)).toEqual([s4.key, s1.key]);
  });

  test('a threshold change (2 → 3) is finalized by the old threshold; from the next round 2 signatures are not final, 3 are', async () => {
    const sub = await createMultisig('ms-threshold', 5000);
    const change = { signers: [s1.key, s2.key, s3.key], threshold: 3 };
    await send(s1, 'set_signers', change, sub);
    await send(s2, 'set_signers', change, sub);
    await tick();
    let p = await openProposal(sub);
    expect(p.txs.length).toBe(2);
    expect((await cosign(s1, p, sub)).status).toBe(202);
    expect((await cosign(s3, p, sub)).status).toBe(201); // the completing votes' round: old threshold 2
    expect((await state('sys/consensus', sub)).body.value).toEqual({ mode: { type: 'multisig', ...change, proposalTimeoutMs: 5000 } });

    const tx = await send(writer, 'set', { key: 'strict', value: 3 }, sub);
    await tick();
    p = await openProposal(sub);
    expect((await cosign(s1, p, sub)).status).toBe(202);
    expect((await cosign(s2, p, sub)).status).toBe(202); // 2 of 3 is no longer enough
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.body.id}`)).body.status).toBe('pending');
    expect((await state('kv/strict', sub)).body.exists).toBe(false);
    expect((await cosign(s3, p, sub)).status).toBe(201);
    expect((await state('kv/strict', sub)).body).toMatchObject({ exists: true, value: 3 });
    const r = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/rounds/${p.height}`)).body;
    expect(r.signatures.map((x: { signer: string }) => x.signer)).toEqual([s1.key, s2.key, s3.key]);
  });
});
