import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/db.ts';
import type { Database } from '../../src/store/database.ts';
import { LEADER_THREAD, SERVING_THREAD, ThreadWriteLock } from '../../src/store/thread-write-lock.ts';

/**
 * Two threads of one process writing one database file, as the serving thread and the leader
 * thread do (src/runtime/leader-thread.ts). With the shared write lock, the thread that waits for
 * its turn keeps its event loop running; without it, SQLite's busy handler puts the whole thread
 * to sleep. A thread that dies inside a write leaves SQLite's lock behind, which is why the node
 * exits when its leader thread dies (leader-thread.ts).
 */
const dir = mkdtempSync(join(tmpdir(), 'dstp-wlock-'));
const workers: Worker[] = [];
const dbs: Database[] = [];
afterAll(async () => {
  for (const w of workers) w.terminate();
  for (const db of dbs) await db.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function startThread(path: string, lock: ThreadWriteLock | null): Promise<{ w: Worker; next: () => Promise<string> }> {
  const w = new Worker(new URL('../helpers/write-lock-thread.ts', import.meta.url).href, { type: 'module' });
  workers.push(w);
  const inbox: string[] = [];
  let waiting: ((m: string) => void) | null = null;
  w.onmessage = (e: MessageEvent<string>) => {
    if (waiting) {
      const r = waiting;
      waiting = null;
      r(e.data);
    } else inbox.push(e.data);
  };
  const next = () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise<string>((r) => (waiting = r)));
  w.postMessage({ kind: 'open', path, lock: lock?.buffer ?? null });
  return next().then((m) => {
    expect(m).toBe('open');
    return { w, next };
  });
}

async function freshDb(name: string, lock: ThreadWriteLock | null): Promise<{ path: string; db: Database }> {
  const path = join(dir, name);
  const db = await openDatabase({ url: `file:${path}`, ...(lock ? { threadLock: lock } : {}) });
  dbs.push(db);
  await db.write((tx) => tx.execute('CREATE TABLE marks (who TEXT NOT NULL)'));
  return { path, db };
}

/** Runs `fn` while sampling the event loop every 5 ms; returns the longest gap seen. */
async function longestStall<T>(fn: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    const value = await fn();
    worst = Math.max(worst, performance.now() - last);
    return { value, stallMs: worst };
  } finally {
    clearInterval(timer);
  }
}

const marks = async (db: Database) => (await db.read.execute('SELECT who FROM marks ORDER BY rowid')).rows.map((r) => String(r[0]));

describe('thread write lock', () => {
  test('the waiting thread keeps its event loop; its write lands right after the other commits', async () => {
    const lock = ThreadWriteLock.create(SERVING_THREAD);
    const { path, db } = await freshDb('with-lock.db', lock);
    const other = await startThread(path, lock);
    other.w.postMessage({ kind: 'hold', ms: 400, value: 'leader' });
    expect(await other.next()).toBe('holding');
    const t0 = performance.now();
    const { stallMs } = await longestStall(() => db.write((tx) => tx.execute({ sql: 'INSERT INTO marks (who) VALUES (?)', args: ['serving'] })));
    const waited = performance.now() - t0;
    expect(await other.next()).toBe('done');
    expect(waited).toBeGreaterThan(250); // it did wait for the other thread's turn…
    expect(stallMs).toBeLessThan(100); // …without freezing its own thread
    expect(await marks(db)).toEqual(['leader', 'serving']);
  });

  test('without the lock the same wait freezes the thread (what the lock is for)', async () => {
    const { path, db } = await freshDb('without-lock.db', null);
    const other = await startThread(path, null);
    other.w.postMessage({ kind: 'hold', ms: 400, value: 'leader' });
    expect(await other.next()).toBe('holding');
    const { stallMs } = await longestStall(() => db.write((tx) => tx.execute({ sql: 'INSERT INTO marks (who) VALUES (?)', args: ['serving'] })));
    expect(await other.next()).toBe('done');
    expect(stallMs).toBeGreaterThan(200);
    expect(await marks(db)).toEqual(['leader', 'serving']);
  });

  test('a thread that dies inside its write keeps SQLite\'s lock in the process: why the node then exits', async () => {
    const lock = ThreadWriteLock.create(SERVING_THREAD);
    const path = join(dir, 'dies.db');
    const db = await openDatabase({ url: `file:${path}`, threadLock: lock, busyTimeoutMs: 300 });
    dbs.push(db);
    await db.write((tx) => tx.execute('CREATE TABLE marks (who TEXT NOT NULL)'));
    const other = await startThread(path, lock);
    other.w.postMessage({ kind: 'hold-forever', value: 'never committed' });
    expect(await other.next()).toBe('holding');
    other.w.terminate();
    lock.releaseFor(LEADER_THREAD); // the turn is freed…
    const err = await db.write((tx) => tx.execute({ sql: 'INSERT INTO marks (who) VALUES (?)', args: ['serving'] })).then(
      () => null,
      (e: unknown) => e,
    );
    // …but the dead thread's connection still holds the write lock: only a new process can write.
    expect(String((err as { code?: string } | null)?.code)).toBe('SQLITE_BUSY');
    expect(await marks(db)).toEqual([]);
  });

  test('turns: acquire, time out while held, release by owner only', async () => {
    const a = ThreadWriteLock.create(SERVING_THREAD);
    const b = new ThreadWriteLock(a.buffer, LEADER_THREAD);
    expect(await a.acquire(100)).toBe(true);
    const t = performance.now();
    expect(await b.acquire(60)).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(55);
    b.release(); // not b's turn: nothing happens
    expect(await b.acquire(0)).toBe(false);
    b.releaseFor(LEADER_THREAD); // not held by the leader: nothing happens
    expect(await b.acquire(0)).toBe(false);
    const waiting = b.acquire(1000);
    a.release();
    expect(await waiting).toBe(true);
    b.release();
    expect(await a.acquire(0)).toBe(true);
    a.release();
  });
});
