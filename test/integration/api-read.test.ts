import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ics23, verifyMembership } from '@confio/ics23';
import { smtSpec } from '@confio/ics23/build/proofs';
import { fromHex, utf8 } from '../../src/core/hex.ts';
import { jcsBytes } from '../../src/core/jcs.ts';
import { signDigest, verifyDigest } from '../../src/core/keys.ts';
import { digest } from '../../src/core/digest.ts';
import { sha256 } from '../../src/core/hash.ts';
import { merkleRoot } from '../../src/core/merkle-log.ts';
import { roundHash, type RoundHeader } from '../../src/core/round.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * Read routes over a real node (in-process Bun.serve, real libSQL file): every answer is checked
 * the way a client that does not trust the node would check it — proofs folded by the stand-alone
 * verifier, round hashes recomputed, signatures verified against the node key.
 */
let s: TestServer;
const alice = party('api-read-alice');
const bob = party('api-read-bob');
let coin: string;
let notes: string;
let tx1: string;

const balance = (p: { key: string }) => `balance/${p.key}`;

beforeAll(async () => {
  s = await startServer();
  const c = subtreeRequest({
    network: s.network,
    owner: alice,
    name: 'coin',
    program: 'token',
    config: { symbol: 'CO', decimals: 0, minter: alice.key },
    authority: s.nodeKey,
    genesis: [
      { key: balance(alice), value: '10' },
      { key: balance(bob), value: '1' },
      { key: 'supply', value: '11' },
    ],
  });
  coin = c.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: c.body, headers: adminHeader() })).status).toBe(201);
  const n = subtreeRequest({ network: s.network, owner: bob, name: 'notes', program: 'kv', config: { writers: 'any' }, authority: s.nodeKey });
  notes = n.id;
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: n.body, headers: adminHeader() })).status).toBe(201);

  const sent = await call(s.url, 'POST', '/v1/transactions', {
    json: signedTx(alice, { network: s.network, subtree: coin, nonce: 0, call: 'transfer', args: { to: bob.key, amount: '2' } }),
  });
  expect(sent.status).toBe(202);
  tx1 = sent.body.id;
});

afterAll(async () => {
  await s?.close();
});

describe('GET /v1/info, /healthz, /openapi.json, /docs', () => {
  test('info names the network, the node key, origin, version, programs and modes', async () => {
    const r = await call(s.url, 'GET', '/v1/info');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json');
    expect(r.body.network).toBe(s.network);
    expect(r.body.publicKey).toBe(s.nodeKey);
    expect(r.body.origin).toBe(`dstp.local/${s.network}`);
    expect(r.body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.body.programs).toEqual(['kv', 'token']);
    expect(r.body.modes).toContain('poa');
  });

  test('healthz', async () => {
    const r = await call(s.url, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  test('the OpenAPI 3.1 document is JSON and lists every route with its method', async () => {
    const r = await call(s.url, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(r.body.info.title).toBe('dstp');
    const expected: [string, string][] = [
      ['/v1/info', 'get'],
      ['/v1/subtrees', 'post'],
      ['/v1/subtrees', 'get'],
      ['/v1/subtrees/{id}', 'get'],
      ['/v1/transactions', 'post'],
      ['/v1/transactions/batch', 'post'],
      ['/v1/transactions/{id}', 'get'],
      ['/v1/subtrees/{id}/state/{key}', 'get'],
      ['/v1/subtrees/{id}/rounds', 'get'],
      ['/v1/subtrees/{id}/rounds/{height}', 'get'],
      ['/v1/leader/tick', 'post'],
      ['/v1/subtrees/{id}/proposals', 'get'],
      ['/v1/subtrees/{id}/rounds/{height}/signatures', 'post'],
    ];
    for (const [path, method] of expected) expect(r.body.paths[path]?.[method]).toBeDefined();
    // Signed bodies are documented by reference to their component schemas.
    expect(r.body.paths['/v1/transactions'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/TxEnvelope');
    for (const name of ['TxEnvelope', 'TxBatch', 'SubtreeRequest', 'RoundSignatureRequest', 'Problem', 'State', 'Round', 'SubtreeHead']) {
      expect(r.body.components.schemas[name]).toBeDefined();
    }
    // Every $ref points at a schema that exists.
    const refs = [...r.text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs) expect(r.body.components.schemas[ref]).toBeDefined();
  });

  test('/docs is a browsable HTML reference pointing at /openapi.json', async () => {
    const r = await call(s.url, 'GET', '/docs');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/html');
    expect(r.text).toContain('/openapi.json');
  });
});

describe('subtrees', () => {
  test('GET /v1/subtrees/:id: the head with the signed request', async () => {
    const r = await call(s.url, 'GET', `/v1/subtrees/${coin}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: coin, owner: alice.key, name: 'coin', program: 'token', status: 'active', height: 0, logSize: 1 });
    expect(r.body.mode).toEqual({ type: 'poa', authority: s.nodeKey });
    expect(r.body.request.subtree.name).toBe('coin');
    // The owner's signature in the stored request verifies over digest("subtree", subtree).
    const ownerSig = r.body.request.sigs.find((x: { signer: string }) => x.signer === alice.key);
    expect(verifyDigest(alice.key, digest('subtree', r.body.request.subtree), ownerSig.sig)).toBe(true);
  });

  test('GET /v1/subtrees pages in id order with next, filters by parent', async () => {
    const all = await call(s.url, 'GET', '/v1/subtrees');
    expect(all.status).toBe(200);
    expect(all.body.items.map((x: { id: string }) => x.id)).toEqual([coin, notes].sort());
    expect(all.body.next).toBeUndefined();
    expect(all.body.items[0].request).toBeUndefined();

    const p1 = await call(s.url, 'GET', '/v1/subtrees?limit=1');
    expect(p1.body.items).toHaveLength(1);
    expect(typeof p1.body.next).toBe('string');
    const p2 = await call(s.url, 'GET', `/v1/subtrees?limit=1&cursor=${p1.body.next}`);
    expect(p2.body.items).toHaveLength(1);
    expect(p2.body.next).toBeUndefined();
    expect([p1.body.items[0].id, p2.body.items[0].id]).toEqual([coin, notes].sort());

    const none = await call(s.url, 'GET', `/v1/subtrees?parent=${coin}`);
    expect(none.body.items).toEqual([]);
    const top = await call(s.url, 'GET', `/v1/subtrees?parent=${'0'.repeat(64)}`);
    expect(top.body.items).toHaveLength(2);
  });
});

describe('transactions, rounds and state through a round', () => {
  test('GET /v1/transactions/:id while pending: the same signed acceptance, no receipt', async () => {
    const r = await call(s.url, 'GET', `/v1/transactions/${tx1}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: tx1, status: 'pending', subtree: coin, seq: 0, sender: alice.key, nonce: 0 });
    expect(r.body.receipt).toBeUndefined();
    expect(r.body.height).toBeUndefined();
    expect(r.body.accept).toMatchObject({ v: 1, network: s.network, tx: tx1, subtree: coin, seq: 0 });
    expect(verifyDigest(s.nodeKey, digest('accept', r.body.accept), r.body.sig)).toBe(true);
  });

  test('after a leader tick: executed with receipt and height; round 1 is signed and chains to round 0', async () => {
    const tick = await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
    expect(tick.status).toBe(200);
    expect(tick.body.leader).toBe(true);
    expect(tick.body.rounds.map((x: { subtree: string }) => x.subtree)).toEqual([coin]);

    const t = await call(s.url, 'GET', `/v1/transactions/${tx1}`);
    expect(t.body.status).toBe('executed');
    expect(t.body.height).toBe(1);
    expect(t.body.receipt).toEqual({ tx: tx1, index: 0, status: 'ok' });

    const r0 = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds/0`);
    const r1 = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds/1`);
    expect(r1.status).toBe(200);
    expect(r1.body.status).toBe('final');
    expect(r1.body.txs).toEqual([tx1]);
    const header = r1.body.header as RoundHeader;
    expect(Buffer.from(roundHash(header)).toString('hex')).toBe(r1.body.hash);
    expect(header.prev).toBe(r0.body.hash);
    expect(header.txRoot).toBe(Buffer.from(merkleRoot([fromHex(tx1)])).toString('hex'));
    expect(header.receiptsRoot).toBe(Buffer.from(merkleRoot([jcsBytes(t.body.receipt)])).toString('hex'));
    expect(r1.body.signatures).toHaveLength(1);
    expect(r1.body.signatures[0].signer).toBe(s.nodeKey);
    expect(verifyDigest(s.nodeKey, fromHex(r1.body.hash), r1.body.signatures[0].sig)).toBe(true);
    expect(r0.body.header.prev).toBe('0'.repeat(64));

    const head = await call(s.url, 'GET', `/v1/subtrees/${coin}`);
    expect(head.body).toMatchObject({ height: 1, root: header.stateRoot, headHash: r1.body.hash });
  });

  test('GET …/rounds pages asc (default) and desc with next cursors', async () => {
    const asc = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds?limit=1`);
    expect(asc.status).toBe(200);
    expect(asc.body.items.map((x: { height: number }) => x.height)).toEqual([0]);
    expect(asc.body.next).toBe('0');
    const asc2 = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds?limit=1&cursor=${asc.body.next}`);
    expect(asc2.body.items.map((x: { height: number }) => x.height)).toEqual([1]);
    expect(asc2.body.next).toBeUndefined();
    const desc = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds?order=desc`);
    expect(desc.body.items.map((x: { height: number }) => x.height)).toEqual([1, 0]);
    expect(desc.body.items[0].txs).toEqual([tx1]);
  });

  test('GET state: value, proof, root and signed round that a client verifies alone', async () => {
    for (const [who, amount] of [
      [alice, '8'],
      [bob, '3'],
    ] as const) {
      const r = await call(s.url, 'GET', `/v1/subtrees/${coin}/state/${balance(who)}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ subtree: coin, key: balance(who), exists: true, value: amount, height: 1 });
      verifyProof(r.body.proof, { key: balance(who), value: amount, root: r.body.root });
      const header = r.body.round.header as RoundHeader;
      expect(header.stateRoot).toBe(r.body.root);
      expect(header.height).toBe(1);
      expect(Buffer.from(roundHash(header)).toString('hex')).toBe(r.body.roundHash);
      const sig = r.body.round.signatures.find((x: { signer: string }) => x.signer === s.nodeKey);
      expect(verifyDigest(s.nodeKey, fromHex(r.body.roundHash), sig.sig)).toBe(true);
    }
  });

  test('a key with "/" may be sent percent-encoded; both spellings give the same answer', async () => {
    const plain = await call(s.url, 'GET', `/v1/subtrees/${coin}/state/${balance(alice)}`);
    const encoded = await call(s.url, 'GET', `/v1/subtrees/${coin}/state/${encodeURIComponent(balance(alice))}`);
    expect(encoded.status).toBe(200);
    expect(encoded.body).toEqual(plain.body);
  });

  test('an absent key: exists false, no value, an exclusion proof that verifies', async () => {
    const key = 'balance/ed25519:' + '00'.repeat(32);
    const r = await call(s.url, 'GET', `/v1/subtrees/${coin}/state/${key}`);
    expect(r.status).toBe(200);
    expect(r.body.exists).toBe(false);
    expect('value' in r.body).toBe(false);
    verifyProof(r.body.proof, { key, root: r.body.root });
    const empty = await call(s.url, 'GET', `/v1/subtrees/${notes}/state/kv%2Fanything`);
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ exists: false, height: 0, root: '0'.repeat(64) });
    verifyProof(empty.body.proof, { key: 'kv/anything', root: '0'.repeat(64) });
  });

  test('?height= reads history: the genesis balances at height 0', async () => {
    const r = await call(s.url, 'GET', `/v1/subtrees/${coin}/state/${balance(alice)}?height=0`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ exists: true, value: '10', height: 0 });
    verifyProof(r.body.proof, { key: balance(alice), value: '10', root: r.body.root });
    const r0 = await call(s.url, 'GET', `/v1/subtrees/${coin}/rounds/0`);
    expect(r.body.root).toBe(r0.body.header.stateRoot);
    expect(r.body.roundHash).toBe(r0.body.hash);
  });

  test('?format=ics23 adds a CommitmentProof that @confio/ics23 verifies with smtSpec', async () => {
    const r = await call(s.url, 'GET', `/v1/subtrees/${coin}/state/${balance(bob)}?format=ics23`);
    expect(r.status).toBe(200);
    expect(r.body.ics23.spec).toBe('smt');
    const proof = ics23.CommitmentProof.decode(fromHex(r.body.ics23.proof));
    const key = sha256(utf8(balance(bob)));
    const value = jcsBytes('3');
    expect(r.body.ics23.key).toBe(Buffer.from(key).toString('hex'));
    expect(r.body.ics23.value).toBe(Buffer.from(value).toString('hex'));
    expect(verifyMembership(proof, smtSpec, fromHex(r.body.root), key, value)).toBe(true);
    expect(verifyMembership(proof, smtSpec, fromHex(r.body.root), key, jcsBytes('4'))).toBe(false);
  });
});

describe('proposals: a PoA subtree whose authority is outside the node', () => {
  const carol = party('api-read-carol');
  let ext: string;
  let txId: string;
  let proposalHash: string;

  test('the leader proposes instead of finalizing; GET …/proposals lists it open', async () => {
    const req = subtreeRequest(
      { network: s.network, owner: alice, name: 'ext', program: 'kv', config: { writers: 'any' }, authority: carol.key },
      [carol],
    );
    ext = req.id;
    // The node's key is not needed, so no admin token either.
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: req.body })).status).toBe(201);
    const sent = await call(s.url, 'POST', '/v1/transactions', {
      json: signedTx(alice, { network: s.network, subtree: ext, nonce: 0, call: 'set', args: { key: 'greeting', value: 'hi' } }),
    });
    expect(sent.status).toBe(202);
    txId = sent.body.id;
    const tick = await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
    const mine = tick.body.rounds.find((x: { subtree: string }) => x.subtree === ext);
    expect(mine).toMatchObject({ height: 1, status: 'proposed' });

    const list = await call(s.url, 'GET', `/v1/subtrees/${ext}/proposals?status=open`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    const p = list.body.items[0];
    expect(p).toMatchObject({ height: 1, status: 'open', txs: [txId], signers: [carol.key] });
    expect(Buffer.from(roundHash(p.header)).toString('hex')).toBe(p.hash);
    proposalHash = p.hash;
    // Not final yet: no round 1, state still at genesis.
    expect((await call(s.url, 'GET', `/v1/subtrees/${ext}/rounds/1`)).status).toBe(404);
    expect((await call(s.url, 'GET', `/v1/subtrees/${ext}/state/kv/greeting`)).body).toMatchObject({ exists: false, height: 0 });
  });

  test('the authority\'s signature makes it final (201); repeating it is 200', async () => {
    const sig = Buffer.from(signDigest('ed25519', carol.secret, fromHex(proposalHash))).toString('hex');
    const r = await call(s.url, 'POST', `/v1/subtrees/${ext}/rounds/1/signatures`, { json: { signer: carol.key, sig } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ hash: proposalHash, status: 'final' });
    const again = await call(s.url, 'POST', `/v1/subtrees/${ext}/rounds/1/signatures`, { json: { signer: carol.key, sig } });
    // A retry after a lost 201: the same signature on the round it finalized is idempotent.
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ hash: proposalHash, status: 'final' });
    // A signature for a height with no open proposal is still a clear 404.
    const later = await call(s.url, 'POST', `/v1/subtrees/${ext}/rounds/2/signatures`, { json: { signer: carol.key, sig } });
    expect(later.status).toBe(404);
    expect(later.body.code).toBe('not_found');

    const round = await call(s.url, 'GET', `/v1/subtrees/${ext}/rounds/1`);
    expect(round.status).toBe(200);
    expect(round.body.hash).toBe(proposalHash);
    expect(round.body.signatures).toEqual([{ signer: carol.key, sig }]);
    const state = await call(s.url, 'GET', `/v1/subtrees/${ext}/state/kv/greeting`);
    expect(state.body).toMatchObject({ exists: true, value: 'hi', height: 1, roundHash: proposalHash });
    verifyProof(state.body.proof, { key: 'kv/greeting', value: 'hi', root: state.body.root });
    expect(verifyDigest(carol.key, fromHex(state.body.roundHash), state.body.round.signatures[0].sig)).toBe(true);
    expect((await call(s.url, 'GET', `/v1/transactions/${txId}`)).body).toMatchObject({ status: 'executed', height: 1 });
    const finals = await call(s.url, 'GET', `/v1/subtrees/${ext}/proposals?status=final`);
    expect(finals.body.items.map((x: { hash: string }) => x.hash)).toEqual([proposalHash]);
  });
});

describe('isolation', () => {
  test('a second in-process node on its own file starts empty', async () => {
    const other = await startServer({ network: 'dstp-other' });
    try {
      const r = await call(other.url, 'GET', '/v1/subtrees');
      expect(r.body).toEqual({ items: [] });
      expect((await call(other.url, 'GET', '/v1/info')).body.network).toBe('dstp-other');
    } finally {
      await other.close();
    }
  });
});
