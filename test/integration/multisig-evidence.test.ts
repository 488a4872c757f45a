/**
 * Multisig equivocation evidence (SPEC §5) over the real HTTP API of an in-process node (leader
 * ticked by the test): two headers at one height by one signer, or a header and an expiry vote for
 * it. Accepted once (202, then 200 idempotent), it halts the subtree naming the signer; only a
 * resume naming the evidence lifts that halt. Bad or refuted evidence is 400 and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { digest } from '../../src/core/digest.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { EMPTY_LIST_ROOT, nextHeader, parseRoundHeader, roundHash, type RoundHeader } from '../../src/core/round.ts';
import { listEvents } from '../../src/store/events.ts';
import { adminHeader, call, party, signedTx, startServer, type Party, type TestServer } from '../helpers/server.ts';

const owner = party('mse-owner');
const [s1, s2, s3] = [1, 2, 3].map((i) => party(`mse-signer-${i}`));
const outsider = party('mse-outsider');
const writer = party('mse-writer');
let srv: TestServer;
let serial = 0;

beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
});

const sign = (p: Party, d: Uint8Array) => toHex(signDigest(p.scheme, p.secret, d));
const tick = () => call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
const post = (body: unknown) => call(srv.url, 'POST', '/v1/evidence', { json: body });

/** A 2-of-3 subtree with an open proposal A at height 1, and a fabricated empty header B at height 1. */
async function setup() {
  const spec = {
    v: 1,
    network: srv.network,
    parent: ROOT_ID_HEX,
    owner: owner.key,
    name: `mse-${serial++}`,
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'multisig', signers: [s1!.key, s2!.key, s3!.key], threshold: 2, proposalTimeoutMs: 60_000 },
    genesis: [],
  };
  const d = digest('subtree', spec);
  const created = await call(srv.url, 'POST', '/v1/subtrees', { json: { subtree: spec, sigs: [owner, s1!, s2!].map((p) => ({ signer: p.key, sig: sign(p, d) })) } });
  expect(created.status).toBe(201);
  const sub = created.body.id as string;
  expect((await call(srv.url, 'POST', '/v1/transactions', { json: signedTx(writer, { network: srv.network, subtree: sub, nonce: 0, call: 'set', args: { key: 'x', value: 1 } }) })).status).toBe(202);
  await tick();
  const A = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/proposals?status=open`)).body.items[0];
  const g = parseRoundHeader((await call(srv.url, 'GET', `/v1/subtrees/${sub}/rounds/0`)).body.header);
  const empty = toHex(EMPTY_LIST_ROOT);
  const B = nextHeader(g, { stateRoot: g.stateRoot, txRoot: empty, receiptsRoot: empty, txCount: 0, proposer: srv.nodeKey, time: 1 });
  return { sub, A: { header: A.header as RoundHeader, hash: A.hash as string }, B: { header: B, hash: toHex(roundHash(B)) } };
}
const signed = (p: Party, r: { header: RoundHeader; hash: string }) => ({ header: r.header, sig: sign(p, fromHex(r.hash, 32)) });
const expireOf = (sub: string, round: string) => ({ v: 1, network: srv.network, subtree: sub, height: 1, round });
const voteOf = (p: Party, sub: string, round: string) => ({ expire: expireOf(sub, round), sig: sign(p, digest('expire', expireOf(sub, round))) });
const head = async (sub: string) => (await call(srv.url, 'GET', `/v1/subtrees/${sub}`)).body;
const haltEvents = async (sub: string) => (await listEvents(srv.ctx!.db, { limit: 10_000 })).filter((e) => e.type === 'subtree.halted' && e.subtree === sub);

describe('multisig equivocation evidence', () => {
  test('two headers at one height: accepted once, idempotent, halts naming the signer; only a resume naming it lifts the halt', async () => {
    const { sub, A, B } = await setup();
    const evidence = { signer: s1!.key, a: signed(s1!, A), b: signed(s1!, B) };
    const first = await post(evidence);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ subtree: sub, signer: s1!.key, height: 1, halt: 1 });
    const rounds = [A.hash, B.hash].sort();
    expect(first.body.id).toBe(toHex(digest('evidence', { v: 1, network: srv.network, subtree: sub, height: 1, signer: s1!.key, rounds })));
    const again = await post({ signer: s1!.key, a: evidence.b, b: evidence.a }); // either order: the same evidence
    expect([again.status, again.body.id, again.body.halt]).toEqual([200, first.body.id, 1]);
    expect((await head(sub)).status).toBe('halted');
    expect((await haltEvents(sub)).map((e) => e.data)).toEqual([{ subtree: sub, height: 0, halt: 1, evidence: first.body.id, signer: s1!.key }]);

    // The resume object names the evidence; a resume signed without it does not verify.
    const rv = (await call(srv.url, 'GET', `/v1/subtrees/${sub}/resume`)).body;
    expect(rv.resume).toMatchObject({ action: 'resume', halt: 1, height: 0, evidence: first.body.id });
    const { evidence: _named, ...plain } = rv.resume;
    const wrong = await call(srv.url, 'POST', `/v1/subtrees/${sub}/resume`, { json: { sigs: [{ signer: s2!.key, sig: sign(s2!, digest('resume', plain)) }] } });
    expect([wrong.status, wrong.body.code]).toEqual([401, 'bad_signature']);
    expect((await head(sub)).status).toBe('halted');
    const d = digest('resume', rv.resume);
    expect(toHex(d)).toBe(rv.digest);
    expect((await call(srv.url, 'POST', `/v1/subtrees/${sub}/resume`, { json: { sigs: [{ signer: s2!.key, sig: sign(s2!, d) }] } })).status).toBe(202);
    const lifted = await call(srv.url, 'POST', `/v1/subtrees/${sub}/resume`, { json: { sigs: [{ signer: s3!.key, sig: sign(s3!, d) }] } });
    expect([lifted.status, lifted.body.status]).toEqual([200, 'active']);
    // The same evidence once more changes nothing: no second halt.
    expect((await post(evidence)).status).toBe(200);
    expect((await head(sub)).status).toBe('active');
    expect((await haltEvents(sub)).length).toBe(1);
  });

  test('a header and an expiry vote for it by one signer is evidence too', async () => {
    const { sub, A } = await setup();
    const r = await post({ signer: s2!.key, a: signed(s2!, A), expire: voteOf(s2!, sub, A.hash) });
    expect(r.status).toBe(202);
    expect(r.body.id).toBe(toHex(digest('evidence', { v: 1, network: srv.network, subtree: sub, height: 1, signer: s2!.key, rounds: [A.hash, 'expire'] })));
    expect((await head(sub)).status).toBe('halted');
  });

  test('bad or refuted evidence is 400 invalid_evidence and changes nothing', async () => {
    const { sub, A, B } = await setup();
    const good = { signer: s1!.key, a: signed(s1!, A), b: signed(s1!, B) };
    const otherHeight = { ...B.header, height: 2 };
    const cases: [string, unknown][] = [
      ['b signed by another key', { ...good, b: signed(s2!, B) }],
      ['same header twice', { ...good, b: good.a }],
      ['headers of two heights', { ...good, b: signed(s1!, { header: otherHeight, hash: toHex(roundHash(otherHeight)) }) }],
      ['not a signer', { signer: outsider.key, a: signed(outsider, A), b: signed(outsider, B) }],
      ['both b and expire', { ...good, expire: voteOf(s1!, sub, A.hash) }],
      ['neither b nor expire', { signer: s1!.key, a: good.a }],
      ['a vote for another round', { signer: s1!.key, a: good.a, expire: voteOf(s1!, sub, B.hash) }],
      ['a vote signed by another key', { signer: s1!.key, a: good.a, expire: { ...voteOf(s1!, sub, A.hash), sig: voteOf(s2!, sub, A.hash).sig } }],
      ['malformed sig', { ...good, a: { ...good.a, sig: 'zz' } }],
    ];
    const before = JSON.stringify([await head(sub), await haltEvents(sub)]);
    for (const [what, body] of cases) {
      const r = await post(body);
      expect({ what, status: r.status, code: r.body.code }).toEqual({ what, status: 400, code: 'invalid_evidence' });
    }
    // Refuted: A expires by a certificate of s2 and s3; s1 then signing B at the same height was allowed.
    for (const p of [s2!, s3!]) {
      const v = voteOf(p, sub, A.hash);
      expect((await call(srv.url, 'POST', `/v1/subtrees/${sub}/rounds/1/expiries`, { json: { signer: p.key, round: A.hash, sig: v.sig } })).status).toBeLessThan(300);
    }
    const before2 = JSON.stringify([await head(sub), await haltEvents(sub)]);
    const refuted = await post(good);
    expect([refuted.status, refuted.body.code]).toEqual([400, 'invalid_evidence']);
    expect(refuted.body.detail).toContain('refuted');
    expect(JSON.stringify([await head(sub), await haltEvents(sub)])).toBe(before2);
    expect(JSON.parse(before)[0].status).toBe('active');
    expect((await srv.ctx!.db.read.execute({ sql: 'SELECT count(*) FROM multisig_evidence WHERE subtree = ?', args: [sub] })).rows[0]![0]).toBe(0);
  });
});
