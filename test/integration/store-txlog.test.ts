import { afterAll, describe, expect, test } from 'bun:test';
import type { Database } from '../../src/store/database.ts';
import { GroupCommitter } from '../../src/store/group-commit.ts';
import { getSubtree, setSubtreeStatus } from '../../src/store/subtrees.ts';
import { getTx, getTxBySeq, pendingSubtrees, pendingTxs, type AcceptItem, type AcceptResult } from '../../src/store/tx-log.ts';
import { h, makeSubtree, openTemp, runChild, sender, tempDir, txItem } from './store-helpers.ts';

const tmp = tempDir('dstp-txlog-');
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

/** Deterministic shuffle that keeps each sender's own items in nonce order. */
function interleave(perSender: AcceptItem[][], seed: number): AcceptItem[] {
  const queues = perSender.map((q) => [...q]);
  const out: AcceptItem[] = [];
  let x = seed;
  while (queues.some((q) => q.length > 0)) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const live = queues.filter((q) => q.length > 0);
    out.push(live[x % live.length]!.shift()!);
  }
  return out;
}

async function allRows(db: Database, subtree: string) {
  const rs = await db.read.execute({ sql: 'SELECT id, seq, sender, nonce FROM txs WHERE subtree = ? ORDER BY seq', args: [subtree] });
  return rs.rows.map((r) => ({ id: String(r[0]), seq: Number(r[1]), sender: String(r[2]), nonce: Number(r[3]) }));
}

describe('GroupCommitter', () => {
  test('1000 concurrent accepts from 50 senders: contiguous seqs and nonces, duplicates known, wrong nonces refused, nothing lost', async () => {
    const { db } = await fresh();
    const subtree = (await makeSubtree(db, 'busy')).subtree.id;
    const gc = new GroupCommitter(db, { now: () => 1_800_000_000_000 });
    const senders = 50;
    const perSender = Array.from({ length: senders }, (_, s) => Array.from({ length: 20 }, (_, n) => txItem(subtree, sender(s), n)));
    const items = interleave(perSender, 7);

    // 64 callers, each sending its next item as soon as the previous answer arrives.
    const results = new Map<string, AcceptResult>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < items.length) {
          const it = items[next++]!;
          results.set(it.id, await gc.accept(it));
        }
      }),
    );
    // A caller's items of one sender may be in flight in different callers at once; all of them
    // still arrive in nonce order because `next` hands them out in that order.
    expect([...results.values()].every((r) => r.status === 'accepted')).toBe(true);
    expect(gc.stats.items).toBe(1000);
    expect(gc.stats.groups).toBeLessThan(1000); // arrivals during a flush shared a commit
    expect(gc.stats.largestGroup).toBeGreaterThan(1);

    const rows = await allRows(db, subtree);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (let s = 0; s < senders; s++) {
      const mine = rows.filter((r) => r.sender === sender(s)).map((r) => r.nonce);
      expect(mine).toEqual(Array.from({ length: 20 }, (_, i) => i)); // in seq order, no gaps
    }
    for (const it of items) {
      const r = results.get(it.id)!;
      const row = rows.find((x) => x.id === it.id)!;
      expect(r.status === 'accepted' && r.seq).toBe(row.seq);
    }
    expect((await getSubtree(db, subtree))!.logSize).toBe(1000);

    // Resubmissions (all at once) are known, with their original seq and time.
    const again = items.filter((_, i) => i % 10 === 3);
    const knownResults = await Promise.all(again.map((it) => gc.accept(it)));
    knownResults.forEach((r, i) => {
      const first = results.get(again[i]!.id)!;
      expect(r).toEqual({ status: 'known', accept: { subtree, seq: (first as { seq: number }).seq, time: 1_800_000_000_000 } });
    });
    // Wrong nonces (a replayed old nonce with new content, a gap) are refused with the next nonce.
    const wrong = await Promise.all([
      gc.accept(txItem(subtree, sender(0), 5, 'replay')),
      gc.accept(txItem(subtree, sender(1), 22)),
      gc.accept(txItem(subtree, sender(999), 1)),
    ]);
    expect(wrong).toEqual([
      { status: 'nonce_mismatch', expected: 20 },
      { status: 'nonce_mismatch', expected: 20 },
      { status: 'nonce_mismatch', expected: 0 },
    ]);
    expect((await allRows(db, subtree)).length).toBe(1000);
  });

  test('one group decides items in order: duplicate id is known, gaps see earlier items', async () => {
    const { db } = await fresh();
    const subtree = (await makeSubtree(db, 'order')).subtree.id;
    const gc = new GroupCommitter(db, { now: () => 42 });
    const a0 = txItem(subtree, sender(1), 0);
    const a1 = txItem(subtree, sender(1), 1);
    const a3 = txItem(subtree, sender(1), 3);
    const b0 = txItem(subtree, sender(2), 0);
    // Same tick: all land in one group (single flush).
    const rs = await Promise.all([a0, a0, a3, a1, b0, b0].map((it) => gc.accept(it)));
    expect(gc.stats.groups).toBe(1);
    expect(rs).toEqual([
      { status: 'accepted', subtree, seq: 0, time: 42 },
      { status: 'known', accept: { subtree, seq: 0, time: 42 } },
      { status: 'nonce_mismatch', expected: 1 },
      { status: 'accepted', subtree, seq: 1, time: 42 },
      { status: 'accepted', subtree, seq: 2, time: 42 },
      { status: 'known', accept: { subtree, seq: 2, time: 42 } },
    ]);
  });

  test('unknown and halted subtrees are refused; other subtrees in the same group are not affected', async () => {
    const { db } = await fresh();
    const live = (await makeSubtree(db, 'live')).subtree.id;
    const halted = (await makeSubtree(db, 'halted')).subtree.id;
    expect(await setSubtreeStatus(db, halted, 'halted')).toBe(true);
    const gc = new GroupCommitter(db);
    const rs = await gc.acceptBatch([
      txItem(h('nope'), sender(1), 0),
      txItem(halted, sender(1), 0),
      txItem(live, sender(1), 0),
    ]);
    expect(rs.map((r) => r.status)).toEqual(['unknown_subtree', 'halted', 'accepted']);
    expect((await getSubtree(db, halted))!.logSize).toBe(0);
  });

  test('acceptBatch is one group and never split, even when the cap is smaller', async () => {
    const { db } = await fresh();
    const subtree = (await makeSubtree(db, 'batch')).subtree.id;
    const gc = new GroupCommitter(db, { maxGroup: 10 });
    const batch = Array.from({ length: 25 }, (_, n) => txItem(subtree, sender(1), n));
    const single = [txItem(subtree, sender(2), 0), txItem(subtree, sender(3), 0)];
    const [rb, r1, r2] = await Promise.all([gc.acceptBatch(batch), gc.accept(single[0]!), gc.accept(single[1]!)]);
    expect(rb.every((r) => r.status === 'accepted')).toBe(true);
    expect(rb.map((r) => (r.status === 'accepted' ? r.seq : -1))).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(r1!.status).toBe('accepted');
    expect(r2!.status).toBe('accepted');
    expect(gc.stats.groups).toBe(2); // the batch alone (25 > cap), then the two singles together
    expect(gc.stats.largestGroup).toBe(25);
  });

  test('a failing group rejects all its callers and stores nothing of it; the log continues after it', async () => {
    const { db } = await fresh();
    const subtree = (await makeSubtree(db, 'fail')).subtree.id;
    const gc = new GroupCommitter(db);
    await gc.accept(txItem(subtree, sender(1), 0));
    const good = txItem(subtree, sender(2), 0);
    const bad = { ...txItem(subtree, sender(3), 0), envelope: { big: 1n } as never }; // not JSON-serializable
    const settled = await Promise.allSettled([gc.accept(good), gc.accept(bad)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(await getTx(db, good.id)).toBeUndefined();
    expect((await getSubtree(db, subtree))!.logSize).toBe(1);
    const r = await gc.accept(good);
    expect(r).toMatchObject({ status: 'accepted', seq: 1 });
  });

  test('pending reads: subtrees with work (paged), next pending txs in seq order, by seq', async () => {
    const { db } = await fresh();
    const a = (await makeSubtree(db, 'pa')).subtree.id;
    const b = (await makeSubtree(db, 'pb')).subtree.id;
    await makeSubtree(db, 'pc'); // no transactions
    const gc = new GroupCommitter(db, { now: () => 7 });
    await gc.acceptBatch([txItem(a, sender(1), 0), txItem(b, sender(1), 0), txItem(a, sender(1), 1), txItem(a, sender(2), 0)]);
    const all = await pendingSubtrees(db, 10);
    expect(all).toEqual([a, b].sort());
    expect(await pendingSubtrees(db, 1)).toEqual([all[0]!]);
    expect(await pendingSubtrees(db, 10, all[0])).toEqual([all[1]!]);
    const p = await pendingTxs(db, a, 2);
    expect(p.map((t) => t.seq)).toEqual([0, 1]);
    expect(p[0]).toMatchObject({ subtree: a, sender: sender(1), nonce: 0, status: 'pending', height: null, idx: null, code: null, acceptedAt: 7 });
    expect(p[0]!.envelope).toEqual(txItem(a, sender(1), 0).envelope);
    expect((await getTxBySeq(db, a, 2))!.sender).toBe(sender(2));
  });
});

describe('durability and processes', () => {
  test('every acceptance a killed process reported is in the file (resolve happens after COMMIT)', async () => {
    const { db, url } = await fresh();
    const subtree = (await makeSubtree(db, 'crash')).subtree.id;
    const code = `
      import { openDatabase } from './src/store/db.ts';
      import { GroupCommitter } from './src/store/group-commit.ts';
      import { txItem, sender } from './test/integration/store-helpers.ts';
      const db = await openDatabase({ url: process.env.DB_URL });
      const gc = new GroupCommitter(db);
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (;;) {
          const i = next++;
          const r = await gc.accept(txItem(process.env.SUBTREE, sender(i % 16), Math.floor(i / 16)));
          process.stdout.write(JSON.stringify([i, r.seq]) + '\\n');
          if (i === 300) process.kill(process.pid, 'SIGKILL');
        }
      }));`;
    const proc = Bun.spawn([process.execPath, '-e', code], {
      cwd: import.meta.dirname + '/../..',
      env: { ...process.env, DB_URL: url, SUBTREE: subtree },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    expect(proc.signalCode).toBe('SIGKILL');
    const reported = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as [number, number]);
    expect(reported.length).toBeGreaterThan(300);
    const rows = await allRows(db, subtree);
    const seqs = new Set(rows.map((r) => r.seq));
    for (const [, seq] of reported) expect(seqs.has(seq)).toBe(true);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i));
  });

  test('two processes appending to one subtree share one contiguous log', async () => {
    const { db, url } = await fresh();
    const subtree = (await makeSubtree(db, 'shared')).subtree.id;
    const code = `
      import { openDatabase } from './src/store/db.ts';
      import { GroupCommitter } from './src/store/group-commit.ts';
      import { txItem, sender } from './test/integration/store-helpers.ts';
      const db = await openDatabase({ url: process.env.DB_URL });
      const gc = new GroupCommitter(db);
      const base = Number(process.env.BASE);
      let next = 0;
      const statuses = [];
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < 400) {
          const i = next++;
          statuses.push((await gc.accept(txItem(process.env.SUBTREE, sender(base + (i % 8)), Math.floor(i / 8)))).status);
        }
      }));
      console.log(JSON.stringify({ accepted: statuses.filter((s) => s === 'accepted').length, groups: gc.stats.groups }));
      await db.close();`;
    const outs = await Promise.all(
      [0, 100].map((base) => runChild(code, { DB_URL: url, SUBTREE: subtree, BASE: String(base) })),
    );
    for (const o of outs) expect(JSON.parse(o).accepted).toBe(400);
    const rows = await allRows(db, subtree);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 800 }, (_, i) => i));
    expect((await getSubtree(db, subtree))!.logSize).toBe(800);
  });
});

describe('GroupCommitter heads for admission', () => {
  test('a group commit publishes the head it read; any other write of this process or 50 ms withdraw it; a failed group publishes nothing', async () => {
    const { db } = await fresh();
    const made = await makeSubtree(db, 'heads');
    const id = made.subtree.id;
    const other = (await makeSubtree(db, 'heads-other')).subtree.id;
    let t = 1_000;
    const gc = new GroupCommitter(db, { now: () => t });
    expect(gc.recentHead(id)).toBeUndefined();

    expect((await gc.accept(txItem(id, sender(1), 0))).status).toBe('accepted');
    const row = (await getSubtree(db, id))!;
    expect(gc.recentHead(id)).toEqual(expect.objectContaining({ height: row.height, root: row.root }));
    expect(gc.recentHead(other)).toBeUndefined(); // not in the group

    t += 50;
    expect(gc.recentHead(id)).toBeDefined();
    t += 1;
    expect(gc.recentHead(id)).toBeUndefined(); // other processes may have committed rounds since

    expect((await gc.accept(txItem(id, sender(1), 1))).status).toBe('accepted');
    expect(gc.recentHead(id)).toBeDefined();
    // Any other write through this database (a round, a status change) may have moved the head.
    await db.write(async (tx) => {
      await tx.execute({ sql: 'UPDATE subtrees SET height = height + 1 WHERE id = ?', args: [id] });
    });
    expect(gc.recentHead(id)).toBeUndefined();

    expect((await gc.accept(txItem(id, sender(1), 2))).status).toBe('accepted');
    expect(gc.recentHead(id)?.height).toBe(row.height + 1);
    // A group whose transaction fails (here: an item whose envelope cannot be stored) publishes nothing new.
    await db.write(async (tx) => {
      await tx.execute({ sql: 'UPDATE subtrees SET height = height + 1 WHERE id = ?', args: [id] });
    });
    const bad = { ...txItem(id, sender(2), 0), envelope: { toJSON: () => { throw new Error('boom'); } } as never };
    await expect(gc.accept(bad)).rejects.toThrow('boom');
    expect(gc.recentHead(id)).toBeUndefined();
  });
});
