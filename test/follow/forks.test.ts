import { afterAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction, type KeyPair } from '../../src/client/index.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { parseRoundHeader, roundHash } from '../../src/core/round.ts';
import { cleanupAll, createTokenSubtree, http, NETWORK, tempDir, transfer } from '../reliability/harness.ts';
import { caughtUp, follow, headOf, startNode, until, type TestNode } from './helpers.ts';

/**
 * Equivocation seen by followers (SPEC §12): two different final headers for one height halt the
 * follow with `fork` and keep both, with the `POST /v1/evidence` body for each key that signed
 * both. Real node processes on their own databases.
 */
afterAll(cleanupAll);

async function haltOf(node: TestNode, subtree: string, timeoutMs = 15_000) {
  return until(`halt of ${subtree.slice(0, 8)}`, async () => {
    const r = await http(node.url, 'GET', `/v1/follows/${subtree}`);
    return r.body.status === 'halted' ? r.body : undefined;
  }, timeoutMs);
}

async function executed(base: string, id: string) {
  return until(`tx ${id.slice(0, 8)} executed`, async () => {
    const r = await http(base, 'GET', `/v1/transactions/${id}`);
    return r.status === 200 && r.body.status === 'executed' ? r.body : undefined;
  });
}

test('the origin equivocates between followers: C, comparing with witness B, halts with fork; the evidence is accepted by POST /v1/evidence', async () => {
  const [A, B] = await Promise.all([startNode('fork-a'), startNode('fork-b')]);
  // C reaches A only through a proxy that serves a second header for round 3, signed with A's key.
  const proxy = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const u = new URL(req.url);
      const res = await fetch(A.url + u.pathname + u.search, { method: req.method, headers: req.headers, ...(req.method === 'GET' ? {} : { body: await req.text() }) });
      const type = res.headers.get('content-type') ?? '';
      if (!type.includes('json') || !/\/rounds/.test(u.pathname)) return new Response(res.body, { status: res.status, headers: { 'content-type': type } });
      const body = await res.json();
      for (const r of u.pathname.endsWith('/rounds') ? body.items : [body]) {
        if (r.height !== 3) continue;
        r.header.time += 1;
        r.hash = toHex(roundHash(parseRoundHeader(r.header)));
        r.signatures = [{ signer: A.publicKey, sig: toHex(signDigest('ed25519', fromHex(A.keyHex, 32), fromHex(r.hash, 32))) }];
      }
      return Response.json(body, { status: res.status });
    },
  });
  try {
    const C = await startNode('fork-c', { DSTP_FOLLOW_WITNESSES: B.url });
    const owner = generateKey();
    const writer = generateKey();
    // A pos subtree whose one validator is A's node key: A finalizes its rounds by itself.
    const spec = buildSubtreeRequest({
      network: NETWORK,
      owner: owner.publicKey,
      name: 'staked',
      program: 'kv',
      config: { writers: 'any' },
      mode: { type: 'pos', validators: [{ key: A.publicKey, stake: '100' }], epochRounds: 100 },
      genesis: [],
    });
    const created = await http(A.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner]), admin: true });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (let n = 0; n < 3; n++) {
      const t = signTransaction({ network: NETWORK, subtree: id, key: writer, nonce: n, call: 'set', args: { key: `k${n}`, value: n } });
      expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
      await executed(A.url, t.id);
    }
    expect((await headOf(A, id)).height).toBe(3);
    expect((await follow(B, A.url, id)).status).toBe(201);
    await caughtUp(B, id, 3);
    expect((await follow(C, `http://127.0.0.1:${proxy.port}`, id)).status).toBe(201);

    const f = await haltOf(C, id);
    expect(f.halt.code).toBe('fork');
    const ev = f.halt.evidence;
    expect([ev.height, ev.source]).toEqual([3, B.url]);
    expect(ev.verified.hash).not.toBe(ev.served.hash);
    expect(ev.served.hash).toBe((await headOf(A, id)).headHash);
    expect(ev.evidence).toHaveLength(1);
    expect(ev.evidence[0].validator).toBe(A.publicKey);
    // C stays at what it verified; B was not misled.
    expect((await headOf(C, id)).status).toBe('halted');
    expect((await http(B.url, 'GET', `/v1/follows/${id}`)).body.status).toBe('following');

    // A follower takes no evidence for a subtree it follows (the slash is the origin's to write):
    // a refusal that names the origin, nothing appended to B's replica, the follow unharmed.
    const atB = await http(B.url, 'POST', '/v1/evidence', { json: ev.evidence[0] });
    expect([atB.status, atB.body.code, atB.body.origin]).toEqual([409, 'followed_subtree', A.url]);
    expect((await headOf(B, id)).logSize).toBe(3);
    // The evidence is portable: the pos subtree's host accepts it as it is.
    const posted = await http(A.url, 'POST', '/v1/evidence', { json: ev.evidence[0] });
    expect([posted.status, posted.body.validator, posted.body.height]).toEqual([202, A.publicKey, 3]);
  } finally {
    proxy.stop(true);
  }
}, 90_000);

test('across restarts: the origin comes back on another database with other rounds; the restarted follower halts with fork', async () => {
  let O = await startNode('fork-o');
  let C = await startNode('fork-c2');
  const alice = generateKey();
  const make = (name: string) => createTokenSubtree(O.url, { owner: alice, authority: O.publicKey, name, balances: { [alice.publicKey]: 100n } });
  // `behind`: the origin's other history is shorter than what C verified; `ahead`: longer.
  const behind = (await make('behind')).id;
  const ahead = (await make('ahead')).id;
  for (const id of [behind, ahead]) {
    for (let n = 0; n < 3; n++) await executed(O.url, await pay(O, id, alice, n, '1'));
    expect((await follow(C, O.url, id)).status).toBe(201);
    await caughtUp(C, id, 3);
  }
  const verified = await headOf(C, behind);

  // Both go down; the origin returns on the same key and address but a fresh database, and signs
  // another history: the same subtree ids (same creation requests), other transfers from height 1.
  await Promise.all([C.proc.kill9(), O.proc.kill9()]);
  O = await startNode('fork-o', { PORT: new URL(O.url).port }, { dbPath: join(tempDir('dstp-follow-fork-o2-'), 'dstp.db'), keyHex: O.keyHex });
  expect((await make('behind')).id).toBe(behind);
  expect((await make('ahead')).id).toBe(ahead);
  for (let n = 0; n < 2; n++) await executed(O.url, await pay(O, behind, alice, n, '7'));
  for (let n = 0; n < 5; n++) await executed(O.url, await pay(O, ahead, alice, n, '7'));
  C = await startNode('fork-c2', {}, { dbPath: C.dbPath, keyHex: C.keyHex });

  // Behind: compared at the origin's head (2). Ahead: round 4 does not link to C's round 3, and
  // the origin's round 3 is another signed header.
  for (const [id, height] of [
    [behind, 2],
    [ahead, 3],
  ] as const) {
    const f = await haltOf(C, id, 20_000);
    expect(f.halt.code).toBe('fork');
    const ev = f.halt.evidence;
    expect([ev.height, ev.source]).toEqual([height, 'origin']);
    expect(ev.evidence[0].signer).toBe(O.publicKey);
    expect([ev.evidence[0].a.header.height, ev.evidence[0].b.header.height]).toEqual([height, height]);
    expect(ev.evidence[0].a.header).not.toEqual(ev.evidence[0].b.header);
  }
  // C keeps serving what it verified before the restart, nothing of the other history.
  const now = await headOf(C, behind);
  expect([now.height, now.headHash, now.status]).toEqual([3, verified.headHash, 'halted']);
  expect((await headOf(C, ahead)).height).toBe(3);
}, 90_000);

async function pay(node: TestNode, subtree: string, from: KeyPair, nonce: number, amount: string): Promise<string> {
  const t = transfer(subtree, from, nonce, generateKey().publicKey, amount);
  expect((await http(node.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
  return t.id;
}
