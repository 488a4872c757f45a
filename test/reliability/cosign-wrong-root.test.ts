/**
 * A node that proposes a header whose state root does not follow from the log gets no signature
 * from an honest co-signer. The node here is real (in-process, HTTP on 127.0.0.1, scheduler off);
 * the dishonest proposal is crafted through the node's own store, exactly as a leader would store
 * one, with one write the log never asked for. The co-signers are real `dstp cosign --once`
 * processes with their own replicas: they refuse it and vote to expire it, and their votes (an
 * expiry certificate) expire it so that the node proposes again.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction } from '../../src/client/index.ts';
import { systemCalls } from '../../src/core/consensus/system.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { asJson } from '../../src/core/jcs.ts';
import { executeAndCommitRound } from '../../src/core/replay.ts';
import { nextHeader, parseRoundHeader, roundHash } from '../../src/core/round.ts';
import { LEADER_LEASE } from '../../src/leader/leader-pass.ts';
import { acquireLease, getRound, getSubtree, insertProposal, pendingTxs } from '../../src/store/index.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';
import { keyFile, runCli } from './cosign-harness.ts';

let srv: TestServer;
let dir: string;
beforeAll(async () => {
  srv = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'dstp-wrong-root-'));
});
afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('co-signer against a dishonest proposal', () => {
  test('a header whose state root carries a write the log never made is refused; the honest one is signed', async () => {
    const ctx = srv.ctx!;
    const owner = generateKey();
    const signers = [generateKey(), generateKey()];
    const writer = generateKey();
    const spec = buildSubtreeRequest({
      network: srv.network,
      owner: owner.publicKey,
      name: 'honest-check',
      program: 'kv',
      config: { writers: 'any' },
      mode: { type: 'multisig', signers: signers.map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 1000 },
      genesis: [{ key: 'kv/seed', value: 1 }],
    });
    const created = await call(srv.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, ...signers]) });
    expect(created.status).toBe(201);
    const subtree = created.body.id as string;
    const tx = signTransaction({ network: srv.network, subtree, key: writer, nonce: 0, call: 'set', args: { key: 'x', value: 42 } });
    expect((await call(srv.url, 'POST', '/v1/transactions', { json: tx.envelope })).status).toBe(202);

    // The dishonest leader: honest execution, plus one write of its own in the state root.
    const facts = (await ctx.subtrees.get(subtree))!;
    const row = (await getSubtree(ctx.db, subtree))!;
    const prev = parseRoundHeader((await getRound(ctx.db, subtree, 0))!.header);
    const pending = await pendingTxs(ctx.db, subtree, 100);
    const txs = pending.map((p) => ({ id: p.id, tx: p.envelope.tx }));
    const system = systemCalls(facts.mode, { height: 1, network: srv.network, subtree });
    const step = await executeAndCommitRound({ tree: ctx.tree, values: ctx.store, prevRoot: fromHex(row.root, 32), program: facts.program, config: facts.config, txs, ...(system ? { system } : {}) });
    const forged = await ctx.tree.apply(fromHex(row.root, 32), [...[...step.writes].map(([key, value]) => ({ key, value })), { key: 'kv/minted-by-node', value: 1_000_000 }]);
    const now = Date.now();
    const header = nextHeader(prev, {
      stateRoot: toHex(forged.root),
      txRoot: toHex(step.txRoot),
      receiptsRoot: toHex(step.receiptsRoot),
      txCount: txs.length,
      proposer: ctx.signer.publicKey,
      time: now,
    });
    const hash = toHex(roundHash(header));
    const grant = await acquireLease(ctx.db, { name: LEADER_LEASE, holder: ctx.instanceId, ttlMs: 5000, now });
    expect(grant).not.toBeNull();
    await insertProposal(ctx.db, {
      hash,
      subtree,
      height: 1,
      header: asJson(header),
      txIds: txs.map((t) => t.id),
      receipts: step.receipts,
      stateRoot: header.stateRoot,
      signatures: [],
      nodes: forged,
      values: forged.values,
      lease: { name: LEADER_LEASE, holder: ctx.instanceId, token: grant!.token },
      now,
    });

    const cosignOnce = async (i: number) => {
      const r = await runCli(['cosign', '--once', '--key', keyFile(dir, `k${i}`, signers[i]!), '--node', srv.url, '--subtree', subtree, '--db', `file:${join(dir, `r${i}.db`)}`]);
      expect(r.code).toBe(0);
      const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
      return { summary: JSON.parse(r.stdout), events };
    };
    for (const i of [0, 1]) {
      const { summary, events } = await cosignOnce(i);
      expect(summary).toMatchObject({ status: 'refused', refused: hash, signatures: 0, refusals: 1, expiryVotes: 1 });
      expect(events.find((e) => e.type === 'expiry_voted')).toMatchObject({ height: 1, hash, status: i === 0 ? 202 : 201 });
      const refused = events.find((e) => e.type === 'refused')!;
      expect(refused).toMatchObject({ height: 1, hash, reason: "the header's roots do not follow from the log" });
      expect(refused.mismatches).toEqual([{ field: 'header.stateRoot', expected: toHex(step.stateRoot), got: header.stateRoot }]);
    }
    // Both refused it and voted to expire it: their two votes are a certificate (t = 2), so the
    // node expired it — by their word, not its clock — and the transaction stays pending.
    const expired = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=expired`)).body.items;
    expect(expired).toEqual([expect.objectContaining({ hash, signatures: [] })]);
    expect(expired[0].certificate.expire).toEqual({ v: 1, network: srv.network, subtree, height: 1, round: hash });
    expect(expired[0].certificate.sigs.map((x: { signer: string }) => x.signer).sort()).toEqual(signers.map((k) => k.publicKey).sort());
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items).toEqual([]);
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.id}`)).body.status).toBe('pending');

    // The honest leader pass proposes the true root, which both sign.
    await call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
    const honest = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items[0];
    expect(honest.header.stateRoot).toBe(toHex(step.stateRoot));
    const statuses: number[] = [];
    for (const i of [0, 1]) {
      const { events } = await cosignOnce(i);
      statuses.push(...events.filter((e) => e.type === 'signed').map((e) => e.status as number));
    }
    expect(statuses).toEqual([202, 201]);
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.id}`)).body.status).toBe('executed');
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}/state/kv/minted-by-node`)).body.exists).toBe(false);
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}/state/kv/x`)).body).toMatchObject({ exists: true, value: 42, height: 1 });
  }, 45_000);
});

describe('co-signers against a node that keeps proposing wrong roots', () => {
  test('three refused proposals in a row are expired by the co-signers\' votes and halt the subtree; dstp resume lifts it; the honest round is signed; the transaction executes once', async () => {
    const ctx = srv.ctx!;
    const owner = generateKey();
    const signers = [generateKey(), generateKey(), generateKey()];
    const writer = generateKey();
    const spec = buildSubtreeRequest({
      network: srv.network,
      owner: owner.publicKey,
      name: 'halt-check',
      program: 'kv',
      config: { writers: 'any' },
      mode: { type: 'multisig', signers: signers.map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 60_000 },
      genesis: [],
    });
    const created = await call(srv.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, ...signers.slice(0, 2)]) });
    expect(created.status).toBe(201);
    const subtree = created.body.id as string;
    const tx = signTransaction({ network: srv.network, subtree, key: writer, nonce: 0, call: 'set', args: { key: 'x', value: 7 } });
    expect((await call(srv.url, 'POST', '/v1/transactions', { json: tx.envelope })).status).toBe(202);

    const forge = async (mint: number) => {
      const facts = (await ctx.subtrees.get(subtree))!;
      const row = (await getSubtree(ctx.db, subtree))!;
      const prev = parseRoundHeader((await getRound(ctx.db, subtree, 0))!.header);
      const txs = (await pendingTxs(ctx.db, subtree, 100)).map((p) => ({ id: p.id, tx: p.envelope.tx }));
      const system = systemCalls(facts.mode, { height: 1, network: srv.network, subtree });
      const step = await executeAndCommitRound({ tree: ctx.tree, values: ctx.store, prevRoot: fromHex(row.root, 32), program: facts.program, config: facts.config, txs, ...(system ? { system } : {}) });
      const forged = await ctx.tree.apply(fromHex(row.root, 32), [...[...step.writes].map(([key, value]) => ({ key, value })), { key: 'kv/minted-by-node', value: mint }]);
      const now = Date.now();
      const header = nextHeader(prev, { stateRoot: toHex(forged.root), txRoot: toHex(step.txRoot), receiptsRoot: toHex(step.receiptsRoot), txCount: txs.length, proposer: ctx.signer.publicKey, time: now });
      const grant = await acquireLease(ctx.db, { name: LEADER_LEASE, holder: ctx.instanceId, ttlMs: 5000, now });
      const hash = toHex(roundHash(header));
      await insertProposal(ctx.db, {
        hash, subtree, height: 1, header: asJson(header), txIds: txs.map((t) => t.id), receipts: step.receipts, stateRoot: header.stateRoot,
        signatures: [], nodes: forged, values: forged.values, lease: { name: LEADER_LEASE, holder: ctx.instanceId, token: grant!.token }, now,
      });
      return hash;
    };
    const cosignOnce = async (i: number) => {
      const r = await runCli(['cosign', '--once', '--key', keyFile(dir, `h${i}`, signers[i]!), '--node', srv.url, '--subtree', subtree, '--db', `file:${join(dir, `h${i}.db`)}`]);
      expect(r.code).toBe(0);
      return { summary: JSON.parse(r.stdout), events: r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown }) };
    };
    for (let i = 0; i < 3; i++) {
      const hash = await forge(1000 + i);
      for (const k of [0, 1]) {
        const { summary } = await cosignOnce(k);
        expect(summary).toMatchObject({ refused: hash, signatures: 0, expiryVotes: 1 });
      }
      const expired = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=expired`)).body.items;
      expect(expired.length).toBe(i + 1);
      expect((await call(srv.url, 'GET', `/v1/transactions/${tx.id}`)).body.status).toBe('pending');
    }
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}`)).body.status).toBe('halted');
    // Resume by two signers' `dstp resume` (the resume object names the latest final round).
    for (const k of [0, 2]) {
      const r = await runCli(['resume', '--key', keyFile(dir, `h${k}`, signers[k]!), '--node', srv.url, '--subtree', subtree]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ signed: true, halt: 1 });
    }
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}`)).body.status).toBe('active');
    await call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
    const statuses: number[] = [];
    for (const k of [0, 1]) statuses.push(...(await cosignOnce(k)).events.filter((e) => e.type === 'signed').map((e) => e.status as number));
    expect(statuses).toEqual([202, 201]);
    expect((await call(srv.url, 'GET', `/v1/transactions/${tx.id}`)).body).toMatchObject({ status: 'executed', height: 1 });
    const round = (await call(srv.url, 'GET', `/v1/subtrees/${subtree}/rounds/1`)).body;
    expect(round.txs).toEqual([tx.id]);
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}/state/kv/minted-by-node`)).body.exists).toBe(false);
    expect((await call(srv.url, 'GET', `/v1/subtrees/${subtree}`)).body.logSize).toBe(1);
  }, 60_000);
});
