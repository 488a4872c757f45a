import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { generateKey } from '../../src/client/index.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { parseRoundHeader, roundHash } from '../../src/core/round.ts';
import { cleanupAll, createTokenSubtree, http, openReader, transfer } from '../reliability/harness.ts';
import { caughtUp, follow, headOf, startNode, until, type TestNode } from './helpers.ts';

/**
 * A lying origin: a proxy in front of a real node A alters what A serves, one lie per subtree.
 * The follower C (a real node process) must halt with the right code, keep the offending data as
 * evidence, and never serve the altered history: it stays at the last round it verified.
 */
type Lie = 'tx' | 'header' | 'signature' | 'request' | 'rewrite' | 'fork' | 'junk' | 'lightHeader' | 'lightTxs' | 'none';
let A: TestNode;
let C: TestNode;
let proxy: ReturnType<typeof Bun.serve>;
let proxyUrl: string;
const lies = new Map<string, Lie>();
let rewriteOn = false;
const owner = generateKey();
const bob = generateKey();
const ids: Record<Exclude<Lie, 'none'>, string> = { tx: '', header: '', signature: '', request: '', rewrite: '', fork: '', junk: '', lightHeader: '', lightTxs: '' };

type Json = any;

function alter(path: string, body: Json): Json {
  const m = /^\/v1\/subtrees\/([0-9a-f]{64})(\/.*)?$/.exec(path);
  if (!m) return body;
  const lie = lies.get(m[1]!) ?? 'none';
  const rest = m[2] ?? '';
  const rounds: Json[] = rest.startsWith('/rounds/') ? [body] : rest === '/rounds' ? (body.items ?? []) : [];
  for (const r of rounds) {
    if (rewriteOn && r?.height === 3 && (lie === 'fork' || lie === 'junk')) {
      // A second header for height 3: re-signed with the origin's own key (an equivocating origin), or not signed at all.
      r.header.time += 1;
      r.hash = toHex(roundHash(parseRoundHeader(r.header)));
      if (lie === 'fork') r.signatures = [{ signer: A.publicKey, sig: toHex(signDigest('ed25519', fromHex(A.keyHex, 32), fromHex(r.hash, 32))) }];
    }
    if (r?.height !== 2) continue;
    if (lie === 'header' || lie === 'lightHeader') r.header.time += 1;
    if (lie === 'lightTxs') r.txs = r.txs.map(() => 'ab'.repeat(32)); // other ids, same count: txRoot no longer matches
    if (lie === 'signature') r.signatures[0].sig = (r.signatures[0].sig[0] === '0' ? '1' : '0') + r.signatures[0].sig.slice(1);
  }
  if (rest === '/log') {
    for (const e of body.items ?? []) {
      if ((lie === 'tx' && e.seq === 1) || (lie === 'rewrite' && rewriteOn && e.seq === 0)) e.envelope.tx.args.amount = '999';
    }
  }
  if (rest === '' && lie === 'request') body.request.subtree.name = 'renamed';
  return body;
}

beforeAll(async () => {
  [A, C] = await Promise.all([startNode('liar-a'), startNode('liar-c')]);
  proxy = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const u = new URL(req.url);
      const res = await fetch(A.url + u.pathname + u.search, {
        method: req.method,
        headers: req.headers,
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: await req.text() }),
      });
      const type = res.headers.get('content-type') ?? '';
      if (!type.includes('json')) return new Response(res.body, { status: res.status, headers: { 'content-type': type } });
      return new Response(JSON.stringify(alter(u.pathname, await res.json())), { status: res.status, headers: { 'content-type': type } });
    },
  });
  proxyUrl = `http://127.0.0.1:${proxy.port}`;
  for (const lie of Object.keys(ids) as (keyof typeof ids)[]) {
    const s = await createTokenSubtree(A.url, { owner, authority: A.publicKey, name: `lie-${lie.toLowerCase()}`, balances: { [owner.publicKey]: 100n } });
    ids[lie] = s.id;
    lies.set(s.id, lie);
    // Three rounds of one transfer each.
    for (let n = 0; n < 3; n++) {
      const t = transfer(s.id, owner, n, bob.publicKey, '1');
      expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
      await until('executed', async () => ((await http(A.url, 'GET', `/v1/transactions/${t.id}`)).body.status === 'executed' ? true : undefined));
    }
    expect((await headOf(A, s.id)).height).toBe(3);
  }
}, 60_000);

afterAll(async () => {
  proxy?.stop(true);
  await cleanupAll();
});

async function haltOf(subtree: string) {
  return until(`halt of ${subtree.slice(0, 8)}`, async () => {
    const r = await http(C.url, 'GET', `/v1/follows/${subtree}`);
    return r.body.status === 'halted' ? r.body : undefined;
  });
}

/** C serves the subtree only up to round 1: rounds 2+ and their transactions are not there. */
async function servesOnlyUpTo(subtree: string, height: number) {
  const head = await headOf(C, subtree);
  expect(head.height).toBe(height);
  expect(head.status).toBe('halted');
  expect((await http(C.url, 'GET', `/v1/subtrees/${subtree}/rounds/${height + 1}`)).status).toBe(404);
  const log = await http(C.url, 'GET', `/v1/subtrees/${subtree}/log`);
  expect(log.body.items.length).toBe(height);
  for (const e of log.body.items) expect(e.envelope.tx.args.amount).toBe('1');
}

describe('a lying origin halts the follow', () => {
  test('an altered transaction: bad_tx', async () => {
    expect((await follow(C, proxyUrl, ids.tx)).status).toBe(201);
    const f = await haltOf(ids.tx);
    expect(f.halt.code).toBe('bad_tx');
    expect(f.halt.evidence.round.height).toBe(2);
    expect(f.halt.evidence.log[0].envelope.tx.args.amount).toBe('999');
    await servesOnlyUpTo(ids.tx, 1);
  });

  test('an altered round header: bad_signature', async () => {
    expect((await follow(C, proxyUrl, ids.header)).status).toBe(201);
    const f = await haltOf(ids.header);
    expect(f.halt.code).toBe('bad_signature');
    expect(f.halt.evidence.round.height).toBe(2);
    await servesOnlyUpTo(ids.header, 1);
  });

  test('an altered signature: bad_signature', async () => {
    expect((await follow(C, proxyUrl, ids.signature)).status).toBe(201);
    const f = await haltOf(ids.signature);
    expect(f.halt.code).toBe('bad_signature');
    await servesOnlyUpTo(ids.signature, 1);
  });

  test('an altered creation request: bad_request, no replica', async () => {
    const r = await follow(C, proxyUrl, ids.request);
    expect(r.body.code).toBeUndefined();
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('halted');
    expect(r.body.halt.code).toBe('bad_request');
    expect(r.body.halt.evidence.subtree.name).toBe('renamed');
    expect((await http(C.url, 'GET', `/v1/subtrees/${ids.request}`)).status).toBe(404);
  });

  test('a log rewritten at an old seq after it was verified: log_rewritten', async () => {
    expect((await follow(C, proxyUrl, ids.rewrite)).status).toBe(201);
    await caughtUp(C, ids.rewrite, 3);
    rewriteOn = true;
    const f = await haltOf(ids.rewrite);
    expect(f.halt.code).toBe('log_rewritten');
    expect(f.halt.evidence.seq).toBe(0);
    expect(f.halt.evidence.served.envelope.tx.args.amount).toBe('999');
    await servesOnlyUpTo(ids.rewrite, 3);
  });

  test('a second, validly signed header at a verified height: fork, with both headers as evidence', async () => {
    rewriteOn = false;
    for (const id of [ids.fork, ids.junk]) {
      expect((await follow(C, proxyUrl, id)).status).toBe(201);
      await caughtUp(C, id, 3);
    }
    rewriteOn = true;
    const f = await haltOf(ids.fork);
    expect(f.halt.code).toBe('fork');
    expect(f.halt.evidence.verified.hash).toBe((await headOf(A, ids.fork)).headHash);
    expect(f.halt.evidence.served.hash).not.toBe(f.halt.evidence.verified.hash);
    expect(f.halt.evidence.served.signatures[0].signer).toBe(A.publicKey);
    const j = await haltOf(ids.junk);
    expect(j.halt.code).toBe('bad_signature');
    for (const id of [ids.fork, ids.junk]) expect((await headOf(C, id)).headHash).toBe((await headOf(A, id)).headHash);
  });

  test('a light follow: an altered round header is bad_signature, an altered id list bad_link; it stops at round 1', async () => {
    for (const [id, code] of [
      [ids.lightHeader, 'bad_signature'],
      [ids.lightTxs, 'bad_link'],
    ] as const) {
      expect((await http(C.url, 'POST', '/v1/follows', { json: { origin: proxyUrl, subtree: id, verify: 'headers' }, admin: true })).status).toBe(201);
      const f = await haltOf(id);
      expect([f.verify, f.halt.code, f.halt.evidence.round.height, f.height]).toEqual(['headers', code, 2, 1]);
      const head = await headOf(C, id);
      expect([head.height, head.status]).toEqual([1, 'halted']);
      expect((await http(C.url, 'GET', `/v1/subtrees/${id}/rounds/2`)).status).toBe(404);
    }
  });

  test('halts stay across passes, show in /v1/info, and each wrote one follow.halted webhook event', async () => {
    await Bun.sleep(300);
    for (const id of [ids.tx, ids.header, ids.signature]) expect((await http(C.url, 'GET', `/v1/follows/${id}`)).body.status).toBe('halted');
    expect((await http(C.url, 'GET', '/v1/info')).body.follows).toEqual({ syncing: 0, following: 0, halted: 9 });
    const db = await openReader(C.dbPath);
    try {
      const rows = await db.all("SELECT subtree, json_extract(data, '$.code') AS code FROM events WHERE type = 'follow.halted' ORDER BY subtree");
      expect(rows.map((r) => `${r.subtree}:${r.code}`).sort()).toEqual(
        [
          `${ids.tx}:bad_tx`,
          `${ids.header}:bad_signature`,
          `${ids.signature}:bad_signature`,
          `${ids.request}:bad_request`,
          `${ids.rewrite}:log_rewritten`,
          `${ids.fork}:fork`,
          `${ids.junk}:bad_signature`,
          `${ids.lightHeader}:bad_signature`,
          `${ids.lightTxs}:bad_link`,
        ].sort(),
      );
      const synced = await db.all("SELECT subtree FROM events WHERE type = 'follow.synced'");
      expect(synced.map((r) => r.subtree).sort()).toEqual([ids.rewrite, ids.fork, ids.junk].sort());
    } finally {
      db.close();
    }
  });
});
