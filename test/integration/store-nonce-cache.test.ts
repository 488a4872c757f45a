import { afterAll, describe, expect, test } from 'bun:test';
import type { Database } from '../../src/store/database.ts';
import { GroupCommitter } from '../../src/store/group-commit.ts';
import { setSubtreeStatus } from '../../src/store/subtrees.ts';
import { makeSubtree, openTemp, sender, tempDir, txItem } from './store-helpers.ts';

// The committer remembers senders' next nonces between groups; these cases prove that what it
// remembers never decides differently from a fresh read of the log.
const tmp = tempDir('dstp-nonces-');
const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
  tmp.cleanup();
});

async function open(url: string): Promise<Database> {
  const db = await openTemp(url);
  opened.push(db);
  return db;
}

describe('GroupCommitter nonce memory', () => {
  test('appends by another connection (another process) are seen: the remembered nonces are dropped', async () => {
    const url = tmp.url();
    const a = await open(url);
    const b = await open(url);
    const subtree = (await makeSubtree(a, 'shared')).subtree.id;
    const ga = new GroupCommitter(a, { now: () => 1 });
    const gb = new GroupCommitter(b, { now: () => 2 });
    expect((await ga.accept(txItem(subtree, sender(1), 0))).status).toBe('accepted');
    // a remembers "next is 1"; b appends nonce 1 behind its back
    expect(await gb.accept(txItem(subtree, sender(1), 1))).toEqual({ status: 'accepted', subtree, seq: 1, time: 2 });
    expect(await ga.accept(txItem(subtree, sender(1), 1, 'other'))).toEqual({ status: 'nonce_mismatch', expected: 2 });
    expect(await ga.accept(txItem(subtree, sender(1), 1))).toEqual({ status: 'known', accept: { subtree, seq: 1, time: 2 } });
    expect(await ga.accept(txItem(subtree, sender(1), 2))).toEqual({ status: 'accepted', subtree, seq: 2, time: 1 });
    // and the other way round, for a sender a never saw
    expect((await gb.accept(txItem(subtree, sender(2), 0))).status).toBe('accepted');
    expect(await ga.accept(txItem(subtree, sender(2), 0))).toEqual({ status: 'known', accept: { subtree, seq: 3, time: 2 } });
    expect(await ga.accept(txItem(subtree, sender(2), 1))).toEqual({ status: 'accepted', subtree, seq: 4, time: 1 });
  });

  test('a known id is answered as known from memory-decided groups, also in a halted subtree', async () => {
    const db = await open(tmp.url());
    const subtree = (await makeSubtree(db, 'halts')).subtree.id;
    const gc = new GroupCommitter(db, { now: () => 7 });
    const t0 = txItem(subtree, sender(3), 0);
    const t1 = txItem(subtree, sender(3), 1);
    expect((await gc.acceptBatch([t0, t1])).map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(await gc.accept(t0)).toEqual({ status: 'known', accept: { subtree, seq: 0, time: 7 } });
    expect(await gc.accept(txItem(subtree, sender(3), 3))).toEqual({ status: 'nonce_mismatch', expected: 2 });
    expect(await setSubtreeStatus(db, subtree, 'halted')).toBe(true);
    expect(await gc.accept(t1)).toEqual({ status: 'known', accept: { subtree, seq: 1, time: 7 } });
    expect(await gc.accept(txItem(subtree, sender(3), 2))).toEqual({ status: 'halted' });
  });

  test('a failed group leaves nothing remembered: the next group decides from the log', async () => {
    const db = await open(tmp.url());
    const subtree = (await makeSubtree(db, 'fails')).subtree.id;
    const gc = new GroupCommitter(db, { now: () => 9 });
    const t0 = txItem(subtree, sender(4), 0);
    expect((await gc.accept(t0)).status).toBe('accepted');
    // A forged item reusing a stored id with other fields: its INSERT breaks the primary key, so
    // the whole group (with the honest item next to it) rolls back.
    const forged = { ...txItem(subtree, sender(5), 0), id: t0.id };
    await expect(gc.acceptBatch([txItem(subtree, sender(4), 1), forged])).rejects.toThrow();
    expect(await gc.accept(txItem(subtree, sender(4), 2))).toEqual({ status: 'nonce_mismatch', expected: 1 });
    expect(await gc.accept(txItem(subtree, sender(4), 1))).toEqual({ status: 'accepted', subtree, seq: 1, time: 9 });
    expect(await gc.accept(txItem(subtree, sender(5), 0))).toEqual({ status: 'accepted', subtree, seq: 2, time: 9 });
  });
});
