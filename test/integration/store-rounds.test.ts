import { afterAll, describe, expect, test } from 'bun:test';
import type { Database } from '../../src/store/database.ts';
import { LeaseLostError, StaleRoundError, TxLogMismatchError } from '../../src/store/errors.ts';
import { listEvents } from '../../src/store/events.ts';
import { GroupCommitter } from '../../src/store/group-commit.ts';
import { acquireLease, getLease, releaseLease, type LeaseClaim, type LeaseGrant } from '../../src/store/lease.ts';
import { LibsqlNodeStore } from '../../src/store/node-store.ts';
import {
  commitRound,
  getRound,
  getRoundByHash,
  listRounds,
  rootAtHeight,
  type CommitRoundInput,
} from '../../src/store/rounds.ts';
import { getSubtree, listSubtrees } from '../../src/store/subtrees.ts';
import { getTx, pendingTxs } from '../../src/store/tx-log.ts';
import { fakeNode, fakeNodes, fakeValue, h, makeSubtree, openTemp, runChild, sender, tempDir, txItem } from './store-helpers.ts';

const tmp = tempDir('dstp-rounds-');
const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
  tmp.cleanup();
});

async function fresh(): Promise<{ db: Database; url: string }> {
  const url = tmp.url();
  const db = await openTemp(url);
  opened.push(db);
  return { db, url };
}

const T0 = 1_800_000_000_000;
const TTL = 5000;

async function count(db: Database, sql: string, args: (string | number)[] = []): Promise<number> {
  return Number((await db.read.execute({ sql, args })).rows[0]![0]);
}

/** A subtree with 3 pending transactions and a lease held by `leader`. */
async function scene(name: string) {
  const { db, url } = await fresh();
  const subtree = (await makeSubtree(db, name)).subtree.id;
  const gc = new GroupCommitter(db, { now: () => T0 });
  const items = [txItem(subtree, sender(1), 0), txItem(subtree, sender(2), 0), txItem(subtree, sender(1), 1)];
  await gc.acceptBatch(items);
  const grant = (await acquireLease(db, { name: 'leader', holder: 'node-a', ttlMs: TTL, now: T0 }))!;
  const lease: LeaseClaim = { name: 'leader', holder: 'node-a', token: grant.token };
  return { db, url, subtree, items, lease };
}

function round1(subtree: string, txIds: string[], lease: LeaseClaim, now = T0 + 100, tag = 'a'): CommitRoundInput {
  return {
    subtree,
    height: 1,
    hash: h(`round:${subtree}:1:${tag}`),
    header: { v: 1, height: 1, tag },
    signatures: [{ signer: 'ed25519:' + 'bb'.repeat(32), sig: 'dd'.repeat(64) }],
    txIds,
    receipts: txIds.map((tx, index) =>
      index === 1 ? { tx, index, status: 'failed' as const, code: 'unauthorized' } : { tx, index, status: 'ok' as const },
    ),
    stateRoot: h(`root:${subtree}:1:${tag}`),
    nodes: fakeNodes(`r1-${tag}-a`, `r1-${tag}-b`),
    values: [fakeValue(`"r1-${tag}"`)],
    events: [
      { type: 'round.finalized', subtree, data: { height: 1 } },
      ...txIds.map((id) => ({ type: 'tx.executed', subtree, data: { id } })),
    ],
    lease,
    now,
  };
}

/** Everything commitRound writes is absent: no nodes, values, round, events; txs pending; head at 0. */
async function expectUntouched(db: Database, input: CommitRoundInput) {
  const store = new LibsqlNodeStore(db);
  expect(await store.getMany([input.nodes.root])).toEqual([undefined]);
  expect(await count(db, 'SELECT count(*) FROM smt_tree')).toBe(await count(db, 'SELECT count(*) FROM subtrees')); // genesis nodes only
  expect(await store.getValues(input.values.map((v) => v.hash))).toEqual(input.values.map(() => undefined));
  expect(await getRound(db, input.subtree, 1)).toBeUndefined();
  expect((await pendingTxs(db, input.subtree, 10)).map((t) => t.id)).toEqual(input.txIds);
  const head = (await getSubtree(db, input.subtree))!;
  expect(head.height).toBe(0);
  expect(await count(db, "SELECT count(*) FROM events WHERE type != 'subtree.created'")).toBe(0);
}

describe('subtrees', () => {
  test('createSubtree writes subtree, genesis round, nodes, values and events together; a repeat is "exists"', async () => {
    const { db } = await fresh();
    const first = await makeSubtree(db, 'alpha');
    expect(first.status).toBe('created');
    const s = first.subtree;
    expect(s).toMatchObject({ name: 'alpha', height: 0, logSize: 0, status: 'active', root: h('root:alpha:0'), headHash: h('round:alpha:0') });
    expect(s.config).toEqual({ writers: 'any' });
    const r0 = (await getRound(db, s.id, 0))!;
    expect(r0).toMatchObject({ height: 0, hash: h('round:alpha:0'), stateRoot: h('root:alpha:0'), txIds: [], status: 'final' });
    expect(await rootAtHeight(db, s.id, 0)).toBe(h('root:alpha:0'));
    expect((await new LibsqlNodeStore(db).getMany([fakeNode('alpha:genesis').hash]))[0]).toBeDefined();
    expect((await listEvents(db, { limit: 10 })).map((e) => e.type)).toEqual(['subtree.created']);

    const again = await makeSubtree(db, 'alpha', 99);
    expect(again).toEqual({ status: 'exists', subtree: s });
    expect(await count(db, 'SELECT count(*) FROM rounds')).toBe(1);
    expect(await count(db, 'SELECT count(*) FROM events')).toBe(1);
  });

  test('listSubtrees pages by id and filters by parent', async () => {
    const { db } = await fresh();
    const ids = [];
    for (const n of ['a', 'b', 'c', 'd', 'e']) ids.push((await makeSubtree(db, n)).subtree.id);
    ids.sort();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listSubtrees(db, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((s) => s.id));
      if (page.next === null) break;
      cursor = page.next;
    }
    expect(seen).toEqual(ids);
    expect((await listSubtrees(db, { limit: 10, parent: '00'.repeat(32) })).items.length).toBe(5);
    expect((await listSubtrees(db, { limit: 10, parent: ids[0]! })).items).toEqual([]);
  });
});

describe('lease', () => {
  test('token rises on every takeover and stays on renewal; expiry and release open it', async () => {
    const { db } = await fresh();
    const a1 = await acquireLease(db, { name: 'L', holder: 'a', ttlMs: 100, now: 1000 });
    expect(a1).toEqual({ token: 1, expiresAt: 1100 });
    expect(await acquireLease(db, { name: 'L', holder: 'a', ttlMs: 100, now: 1050 })).toEqual({ token: 1, expiresAt: 1150 });
    expect(await acquireLease(db, { name: 'L', holder: 'b', ttlMs: 100, now: 1149 })).toBeNull();
    const b1 = await acquireLease(db, { name: 'L', holder: 'b', ttlMs: 100, now: 1150 }); // a expired
    expect(b1!.token).toBe(2);
    expect(await acquireLease(db, { name: 'L', holder: 'a', ttlMs: 100, now: 1160 })).toBeNull();
    expect(await releaseLease(db, { name: 'L', holder: 'a', token: 1 })).toBe(false); // not a's any more
    expect(await releaseLease(db, { name: 'L', holder: 'b', token: 2 })).toBe(true);
    const a2 = await acquireLease(db, { name: 'L', holder: 'a', ttlMs: 100, now: 1170 });
    expect(a2!.token).toBe(3);
    // another lease name is independent
    expect((await acquireLease(db, { name: 'other', holder: 'b', ttlMs: 100, now: 1170 }))!.token).toBe(1);
    expect(await getLease(db, 'L')).toEqual({ name: 'L', holder: 'a', token: 3, expiresAt: 1270 });
  });

  test('processes racing for an expired lease: exactly one wins, with a higher token', async () => {
    const { db, url } = await fresh();
    await acquireLease(db, { name: 'L', holder: 'old', ttlMs: 10, now: 1000 });
    const code = `
      import { openDatabase } from './src/store/db.ts';
      import { acquireLease } from './src/store/lease.ts';
      const db = await openDatabase({ url: process.env.DB_URL });
      const g = await acquireLease(db, { name: 'L', holder: process.env.HOLDER, ttlMs: 10000, now: 5000 });
      console.log(JSON.stringify(g));
      await db.close();`;
    const outs = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((holder) => runChild(code, { DB_URL: url, HOLDER: holder })));
    const grants = outs.map((o) => JSON.parse(o.trim()) as LeaseGrant | null);
    expect(grants.filter((g) => g !== null)).toEqual([{ token: 2, expiresAt: 15000 }]);
    const row = (await getLease(db, 'L'))!;
    expect(['p1', 'p2', 'p3', 'p4'][grants.findIndex((g) => g !== null)]).toBe(row.holder);
  });
});

describe('commitRound', () => {
  test('writes nodes, values, round, tx outcomes, head and events in one go', async () => {
    const { db, subtree, items, lease } = await scene('ok');
    const input = round1(subtree, items.map((i) => i.id), lease);
    await commitRound(db, input);
    const r = (await getRound(db, subtree, 1))!;
    expect(r).toMatchObject({ hash: input.hash, stateRoot: input.stateRoot, txIds: input.txIds, status: 'final', createdAt: input.now });
    expect(r.header).toEqual(input.header);
    expect(r.signatures).toEqual(input.signatures);
    expect((await getRoundByHash(db, input.hash))!.height).toBe(1);
    expect(await rootAtHeight(db, subtree, 1)).toBe(input.stateRoot);
    expect(await getSubtree(db, subtree)).toMatchObject({ height: 1, root: input.stateRoot, headHash: input.hash, logSize: 3 });
    const txs = await Promise.all(items.map((i) => getTx(db, i.id)));
    expect(txs.map((t) => [t!.status, t!.height, t!.idx, t!.code])).toEqual([
      ['executed', 1, 0, null],
      ['failed', 1, 1, 'unauthorized'],
      ['executed', 1, 2, null],
    ]);
    expect(await pendingTxs(db, subtree, 10)).toEqual([]);
    const store = new LibsqlNodeStore(db);
    expect((await store.getMany([input.nodes.root]))[0]).toBeDefined();
    expect(await count(db, 'SELECT count(*) FROM smt_tree')).toBe(1 + 2); // genesis, then the round's two
    expect((await store.getValues(input.values.map((v) => v.hash))).every((b) => b !== undefined)).toBe(true);
    const ev = await listEvents(db, { limit: 10 });
    expect(ev.map((e) => e.type)).toEqual(['subtree.created', 'round.finalized', 'tx.executed', 'tx.executed', 'tx.executed']);
    expect(ev[1]!.data).toEqual({ height: 1 });

    const page = await listRounds(db, subtree, { limit: 1, order: 'desc' });
    expect(page.items.map((x) => x.height)).toEqual([1]);
    expect(page.next).toBe(1);
    expect((await listRounds(db, subtree, { limit: 5, order: 'desc', cursor: 1 })).items.map((x) => x.height)).toEqual([0]);
    expect((await listRounds(db, subtree, { limit: 5 })).items.map((x) => x.height)).toEqual([0, 1]);
  });

  test('rolls back completely when another holder took the lease', async () => {
    const { db, subtree, items, lease } = await scene('moved');
    const b = await acquireLease(db, { name: 'leader', holder: 'node-b', ttlMs: TTL, now: T0 + TTL });
    expect(b!.token).toBe(lease.token + 1);
    const input = round1(subtree, items.map((i) => i.id), lease, T0 + TTL + 1);
    const err = await commitRound(db, input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect((err as LeaseLostError).code).toBe('lease_lost');
    await expectUntouched(db, input);
  });

  test('commits after our lease lapsed while nobody took it (the token is the fence), never after a takeover', async () => {
    const { db, subtree, items, lease } = await scene('expired');
    const late = round1(subtree, items.map((i) => i.id), lease, T0 + TTL + 1);
    await commitRound(db, late);
    expect((await getRound(db, subtree, 1))!.hash).toBe(late.hash);
    // Another holder takes the lapsed lease: the old token can no longer write anything.
    const b = await acquireLease(db, { name: 'leader', holder: 'node-b', ttlMs: TTL, now: T0 + 2 * TTL });
    expect(b!.token).toBe(lease.token + 1);
    const next = { ...round1(subtree, [], lease, T0 + 2 * TTL + 1, 'next'), height: 2 };
    await expect(commitRound(db, next)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await getRound(db, subtree, 2)).toBeUndefined();
  });

  test('rolls back when the height is stale or skips ahead', async () => {
    const { db, subtree, items, lease } = await scene('stale');
    const ahead = { ...round1(subtree, items.map((i) => i.id), lease), height: 2 };
    const err = await commitRound(db, ahead).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleRoundError);
    expect((err as StaleRoundError).details).toMatchObject({ current: 0, height: 2 });
    await expectUntouched(db, round1(subtree, items.map((i) => i.id), lease));
    // commit 1, then try 1 again with other content
    await commitRound(db, round1(subtree, [items[0]!.id], lease));
    await expect(commitRound(db, round1(subtree, [items[1]!.id], lease, T0 + 200, 'b'))).rejects.toBeInstanceOf(StaleRoundError);
    expect((await getRound(db, subtree, 1))!.txIds).toEqual([items[0]!.id]);
    expect((await getTx(db, items[1]!.id))!.status).toBe('pending');
  });

  test('refuses transactions that are not the next pending ones in log order', async () => {
    const { db, subtree, items, lease } = await scene('order');
    const skipped = round1(subtree, [items[1]!.id, items[0]!.id], lease);
    await expect(commitRound(db, skipped)).rejects.toBeInstanceOf(TxLogMismatchError);
    await expect(commitRound(db, round1(subtree, [h('unknown tx')], lease))).rejects.toBeInstanceOf(TxLogMismatchError);
    const badReceipts = { ...round1(subtree, [items[0]!.id], lease), receipts: [{ tx: items[0]!.id, index: 1, status: 'ok' as const }] };
    await expect(commitRound(db, badReceipts)).rejects.toBeInstanceOf(TxLogMismatchError);
    await expectUntouched(db, round1(subtree, items.map((i) => i.id), lease));
  });

  test('two processes on one file racing to commit the same height: exactly one wins', async () => {
    const { db, url, subtree, items } = await scene('race');
    // Each racer holds its own valid lease, so only the head/primary-key guard can decide.
    const code = `
      import { openDatabase } from './src/store/db.ts';
      import { acquireLease } from './src/store/lease.ts';
      import { commitRound } from './src/store/rounds.ts';
      import { fakeNodes, fakeValue, h } from './test/integration/store-helpers.ts';
      const tag = process.env.TAG, subtree = process.env.SUBTREE, txIds = JSON.parse(process.env.TXS);
      const db = await openDatabase({ url: process.env.DB_URL });
      const g = await acquireLease(db, { name: 'racer-' + tag, holder: tag, ttlMs: 60000, now: Date.now() });
      try {
        await commitRound(db, {
          subtree, height: 1, hash: h('race:' + tag), header: { tag }, signatures: [], txIds,
          receipts: txIds.map((tx, index) => ({ tx, index, status: 'ok' })), stateRoot: h('race-root:' + tag),
          nodes: fakeNodes(...Array.from({ length: 200 }, (_, i) => tag + i)), values: [fakeValue('"' + tag + '"')],
          events: [{ type: 'round.finalized', subtree, data: { tag } }],
          lease: { name: 'racer-' + tag, holder: tag, token: g.token }, now: Date.now(),
        });
        console.log(JSON.stringify({ tag, ok: true }));
      } catch (e) { console.log(JSON.stringify({ tag, ok: false, code: e.code })); }
      await db.close();`;
    const txIds = JSON.stringify(items.map((i) => i.id));
    const outs = await Promise.all(
      ['x', 'y', 'z'].map((tag) => runChild(code, { DB_URL: url, SUBTREE: subtree, TXS: txIds, TAG: tag })),
    );
    const results = outs.map((o) => JSON.parse(o.trim()) as { tag: string; ok: boolean; code?: string });
    const winners = results.filter((r) => r.ok);
    expect(winners.length).toBe(1);
    for (const r of results.filter((x) => !x.ok)) expect(r.code).toBe('stale_round');
    const tag = winners[0]!.tag;
    expect((await getRound(db, subtree, 1))!.hash).toBe(h(`race:${tag}`));
    expect(await getSubtree(db, subtree)).toMatchObject({ height: 1, headHash: h(`race:${tag}`) });
    expect(await count(db, "SELECT count(*) FROM events WHERE type = 'round.finalized'")).toBe(1);
    // only the winner's nodes were written
    const losers = results.filter((r) => !r.ok).map((r) => r.tag);
    const store = new LibsqlNodeStore(db);
    expect((await store.getMany([fakeNode(`${tag}0`).hash]))[0]).toBeDefined();
    for (const l of losers) expect(await store.getMany([fakeNode(`${l}0`).hash])).toEqual([undefined]);
  });
});
