/**
 * Issue 22: a lying node cannot get two final headers at one height out of honest co-signers.
 * The node is real (in-process, HTTP on 127.0.0.1, leader ticked by the test); the co-signers are
 * real `dstp cosign --once` processes, each with its own replica file; the lies come from a proxy
 * between them and the node (cosign-proxy.ts) that rewrites only what the node says: it lists the
 * real proposal A as expired (with no, a forged or a replayed certificate), hides it, or serves a
 * fabricated proposal B at the same height, and collects the signatures B gets.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction, type KeyPair } from '../../src/client/index.ts';
import { digest } from '../../src/core/digest.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { signDigestHex } from '../../src/client/sign.ts';
import { EMPTY_LIST_ROOT, nextHeader, parseRoundHeader, roundHash } from '../../src/core/round.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';
import { keyFile, runCli } from './cosign-harness.ts';
import { lyingNode, type LyingNode } from './cosign-proxy.ts';

let srv: TestServer;
let dir: string;
const proxies: LyingNode[] = [];
beforeAll(async () => {
  srv = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'dstp-lying-node-'));
});
afterAll(async () => {
  for (const p of proxies) p.close();
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

type Ev = { type: string; [k: string]: unknown };
const tick = () => call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
const sign = (k: KeyPair, d: Uint8Array) => signDigestHex(k, d);

let serial = 0;
const names = new Map<string, string>();
const serialName = (subtree: string) => names.get(subtree)!;
async function setup(threshold: number, n: number) {
  const name = `lie-${serial++}`;
  const owner = generateKey();
  const signers = Array.from({ length: n }, () => generateKey());
  const spec = buildSubtreeRequest({
    network: srv.network,
    owner: owner.publicKey,
    name,
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'multisig', signers: signers.map((s) => s.publicKey), threshold, proposalTimeoutMs: 120_000 },
    genesis: [{ key: 'kv/bob', value: 1 }],
  });
  const created = await call(srv.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, ...signers.slice(0, threshold)]) });
  expect(created.status).toBe(201);
  const subtree = created.body.id as string;
  names.set(subtree, name);
  const writer = generateKey();
  const tx = signTransaction({ network: srv.network, subtree, key: writer, nonce: 0, call: 'set', args: { key: 'bob', value: 2 } });
  expect((await call(srv.url, 'POST', '/v1/transactions', { json: tx.envelope })).status).toBe(202);
  await tick();
  const A = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items[0];
  expect(A).toBeDefined();
  // B: an empty proposal at A's height, the state root of the height before (a valid round on its own).
  const g = parseRoundHeader((await call(srv.url, 'GET', `/v1/subtrees/${subtree}/rounds/0`)).body.header);
  const empty = toHex(EMPTY_LIST_ROOT);
  const bHeader = nextHeader(g, { stateRoot: g.stateRoot, txRoot: empty, receiptsRoot: empty, txCount: 0, proposer: srv.nodeKey, time: Date.now() + 700 });
  const B = { hash: toHex(roundHash(bHeader)), height: 1, header: bHeader, txs: [], signatures: [], status: 'open', createdAt: Date.now(), signers: A.signers };
  const cosign = async (i: number, via: string) => {
    const r = await runCli(['cosign', '--once', '--key', keyFile(dir, `${name}-k${i}`, signers[i]!), '--node', via, '--subtree', subtree, '--db', `file:${join(dir, `${name}-r${i}.db`)}`]);
    const events = r.stderr.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    expect(r.stdout.trim()).not.toBe('');
    return { code: r.code, summary: JSON.parse(r.stdout), events };
  };
  const proxy = lyingNode(srv.url);
  proxies.push(proxy);
  proxy.fabricated.add(B.hash);
  return { subtree, signers, tx, A, B, cosign, proxy };
}

/** The node's truth: every final round at height 1, and the co-signatures the proxy collected for B. */
async function finalsAt1(subtree: string) {
  const finals = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=final`)).body.items.filter((p: { height: number }) => p.height === 1);
  return finals.map((p: { hash: string }) => p.hash);
}

const expiredView = (p: Record<string, unknown>, certificate?: unknown) => ({ ...p, status: 'expired', ...(certificate !== undefined ? { certificate } : {}) });

describe('a lying node and honest co-signers (issue 22)', () => {
  test('the reproduction: A listed as expired, empty B served at the same height → s2 refuses B naming why; A is final, B is not', async () => {
    const { subtree, signers, A, B, cosign, proxy, tx } = await setup(2, 3);
    // s2 signs the real proposal A.
    const s2 = await cosign(1, srv.url);
    expect(s2.summary).toMatchObject({ status: 'signed', signed: A.hash });
    // Through the proxy, s2 and s3 see A "expired" (no certificate) and B open.
    proxy.setLie({ proposals: (page) => ({ items: [...page.items.filter((p) => p.hash !== A.hash).map((p) => p), expiredView(A), B] }) });
    const s2b = await cosign(1, proxy.url);
    expect(s2b.summary).toMatchObject({ status: 'refused', refused: B.hash, signatures: 0 });
    const refusal = s2b.events.find((e) => e.type === 'refused')!;
    expect(String(refusal.reason)).toContain(`already signed header ${A.hash}`);
    expect(String(refusal.reason)).toContain('no expiry certificate');
    const s3b = await cosign(2, proxy.url);
    expect(s3b.summary.status).toBe('signed'); // B is a valid round on its own: s3 signed nothing else here
    expect(proxy.collected.get(B.hash)!.map((s) => s.signer)).toEqual([signers[2]!.publicKey]);
    // s1 signs A directly: A is final.
    const s1 = await cosign(0, srv.url);
    expect(s1.events.find((e) => e.type === 'signed')).toMatchObject({ hash: A.hash, status: 201 });
    expect(await finalsAt1(subtree)).toEqual([A.hash]);
    expect(proxy.collected.get(B.hash)!.length).toBeLessThan(2); // B can never reach t = 2
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.id}`)).body).toMatchObject({ status: 'executed', height: 1 });
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}/state/kv/bob`)).body).toMatchObject({ value: 2, height: 1 });
  }, 60_000);

  test('variants: A hidden; A expired to one signer and open to another; forged certificates; replayed certificates → never two finals', async () => {
    const { subtree, signers, A, B, cosign, proxy } = await setup(2, 3);
    expect((await cosign(1, srv.url)).summary).toMatchObject({ status: 'signed', signed: A.hash });
    const expire = (sub: string, height: number, round: string) => ({ v: 1, network: srv.network, subtree: sub, height, round });
    const vote = (k: KeyPair, e: ReturnType<typeof expire>) => ({ signer: k.publicKey, sig: sign(k, digest('expire', e)) });
    const lies: [string, (items: Record<string, unknown>[]) => Record<string, unknown>[], string][] = [
      ['A hidden', (items) => [...items.filter((p) => p.hash !== A.hash), B], 'no expiry certificate'],
      [
        'one valid vote and one invalid',
        (items) => [...items.filter((p) => p.hash !== A.hash), expiredView(A, { expire: expire(subtree, 1, A.hash), sigs: [vote(signers[2]!, expire(subtree, 1, A.hash)), { signer: signers[0]!.publicKey, sig: '00'.repeat(64) }] }), B],
        '1 valid votes of distinct current signers; 2 are needed',
      ],
      [
        'the same vote twice',
        (items) => [...items.filter((p) => p.hash !== A.hash), expiredView(A, { expire: expire(subtree, 1, A.hash), sigs: [vote(signers[2]!, expire(subtree, 1, A.hash)), vote(signers[2]!, expire(subtree, 1, A.hash))] }), B],
        '1 valid votes of distinct current signers',
      ],
      [
        'a certificate of another height',
        (items) => [...items.filter((p) => p.hash !== A.hash), expiredView(A, { expire: expire(subtree, 2, A.hash), sigs: [0, 2].map((i) => vote(signers[i]!, expire(subtree, 2, A.hash))) }), B],
        "expire.height is 2, not 1",
      ],
      [
        'a certificate of another subtree',
        (items) => [...items.filter((p) => p.hash !== A.hash), expiredView(A, { expire: expire('ab'.repeat(32), 1, A.hash), sigs: [0, 2].map((i) => vote(signers[i]!, expire('ab'.repeat(32), 1, A.hash))) }), B],
        'expire.subtree',
      ],
      [
        'votes by keys that are not signers',
        (items) => {
          const outsiders = [generateKey(), generateKey()];
          return [...items.filter((p) => p.hash !== A.hash), expiredView(A, { expire: expire(subtree, 1, A.hash), sigs: outsiders.map((k) => vote(k, expire(subtree, 1, A.hash))) }), B];
        },
        '0 valid votes',
      ],
    ];
    for (const [what, rewrite, why] of lies) {
      proxy.setLie({ proposals: (page) => ({ items: rewrite(page.items) }) });
      const r = await cosign(1, proxy.url);
      expect({ what, status: r.summary.status, signatures: r.summary.signatures }).toEqual({ what, status: 'refused', signatures: 0 });
      const reason = String(r.events.find((e) => e.type === 'refused')!.reason);
      expect({ what, names: reason.includes(why) }).toEqual({ what, names: true });
    }
    expect(proxy.collected.get(B.hash) ?? []).toEqual([]);

    // A shown expired to s2 (refuses B) and open to s3 (signs A): A is final, B is not.
    proxy.setLie({ proposals: (page) => ({ items: [...page.items.filter((p) => p.hash !== A.hash), expiredView(A), B] }) });
    expect((await cosign(1, proxy.url)).summary.status).toBe('refused');
    const s3 = await cosign(2, srv.url);
    expect(s3.events.find((e) => e.type === 'signed')).toMatchObject({ hash: A.hash, status: 201 });
    expect(await finalsAt1(subtree)).toEqual([A.hash]);
    expect(proxy.collected.get(B.hash) ?? []).toEqual([]);
  }, 90_000);

  test('3-of-4 with one faulty signer (signs whatever it is shown) and a lying node: never two finals at a height', async () => {
    const { subtree, signers, A, B, cosign, proxy } = await setup(3, 4);
    const faulty = signers[3]!;
    // s1 and the faulty key sign A.
    expect((await cosign(0, srv.url)).summary).toMatchObject({ status: 'signed', signed: A.hash });
    const fa = await call(srv.url, 'POST', `/v1/subtrees/${subtree}/rounds/1/signatures`, { json: { signer: faulty.publicKey, sig: sign(faulty, fromHex(A.hash, 32)) } });
    expect(fa.status).toBe(202);
    // The lying node hides A from s2 and s3 and shows them B, which the faulty key signs too.
    proxy.setLie({ proposals: (page) => ({ items: [...page.items.filter((p) => p.hash !== A.hash), B] }) });
    for (const i of [1, 2]) expect((await cosign(i, proxy.url)).summary.status).toBe('signed');
    await call(proxy.url, 'POST', `/v1/subtrees/${subtree}/rounds/1/signatures`, { json: { signer: faulty.publicKey, sig: sign(faulty, fromHex(B.hash, 32)) } });
    // s1 refuses B (it signed A, and A has no certificate); B's signers are s2, s3 and the faulty key.
    const s1 = await cosign(0, proxy.url);
    expect(s1.summary.status).toBe('refused');
    const onB = proxy.collected.get(B.hash)!.map((s) => s.signer);
    expect(onB.sort()).toEqual([signers[1]!.publicKey, signers[2]!.publicKey, faulty.publicKey].sort());
    // The truth: s2 and s3, who signed B, refuse A (B has no certificate); A never reaches 3.
    for (const i of [1, 2]) {
      const r = await cosign(i, srv.url);
      expect(r.summary.status).toBe('refused');
      expect(String(r.events.find((e) => e.type === 'refused')!.reason)).toContain(`already signed header ${B.hash}`);
    }
    const open = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items;
    expect(open.map((p: { hash: string; signatures: unknown[] }) => [p.hash, p.signatures.length])).toEqual([[A.hash, 2]]);
    expect(await finalsAt1(subtree)).toEqual([]);
    // At most one of A and B can ever hold 3 signatures of these 4 keys: s1 is only on A, s2 and s3 only on B.
    const onA = open[0].signatures.map((s: { signer: string }) => s.signer);
    expect(onA.filter((k: string) => onB.includes(k))).toEqual([faulty.publicKey]);
  }, 90_000);

  test('two final headers at one height: the co-signer stops with fork, prints its JSON summary, and keeps the evidence across restarts', async () => {
    const { subtree, A, cosign, proxy } = await setup(2, 3);
    for (const i of [0, 1]) expect((await cosign(i, srv.url)).summary.status).toBe('signed');
    expect(await finalsAt1(subtree)).toEqual([A.hash]);
    // Bring s3's replica to height 1 through the truthful node, then show it another final header at 1.
    expect((await cosign(2, srv.url)).summary.height).toBe(1);
    proxy.setLie({ head: (h) => ({ ...h, headHash: 'ee'.repeat(32) }) });
    const forked = await cosign(2, proxy.url);
    expect(forked.code).toBe(1);
    expect(forked.summary).toMatchObject({ stopped: 'fork', height: 1 });
    expect(forked.events.find((e) => e.type === 'fork')).toMatchObject({ height: 1 });
    // The halt is durable: against the truthful node it still refuses to go on, and says why.
    const again = await cosign(2, srv.url);
    expect(again.code).toBe(1);
    expect(again.summary).toMatchObject({ stopped: 'fork', height: 1 });
    expect(String(again.summary.error)).toContain('another final header');
    const { createClient } = await import('@libsql/client');
    const db = createClient({ url: `file:${join(dir, `${serialName(subtree)}-r2.db`)}` });
    const row = (await db.execute('SELECT code, evidence FROM replica_halts')).rows[0]!;
    db.close();
    expect(row.code).toBe('fork');
    const evidence = JSON.parse(String(row.evidence));
    expect(evidence.mine.hash).toBe(A.hash);
    expect(evidence.served.hash).toBe('ee'.repeat(32));
  }, 60_000);
});
