/**
 * A second thread on the test's database file, for thread-write-lock.test.ts: it opens its own
 * Database (with or without the shared write lock) and, on command, holds a write transaction.
 */
import { openDatabase } from '../../src/store/db.ts';
import { LEADER_THREAD, ThreadWriteLock } from '../../src/store/thread-write-lock.ts';

type Cmd =
  | { kind: 'open'; path: string; lock: SharedArrayBuffer | null }
  | { kind: 'hold'; ms: number; value: string }
  | { kind: 'hold-forever'; value: string };
declare const self: { onmessage: ((e: MessageEvent<Cmd>) => void) | null; postMessage(msg: unknown): void };

let db: Awaited<ReturnType<typeof openDatabase>> | null = null;

self.onmessage = async (e) => {
  const cmd = e.data;
  if (cmd.kind === 'open') {
    db = await openDatabase({ url: `file:${cmd.path}`, ...(cmd.lock ? { threadLock: new ThreadWriteLock(cmd.lock, LEADER_THREAD) } : {}) });
    self.postMessage('open');
    return;
  }
  const ms = cmd.kind === 'hold' ? cmd.ms : 0;
  await db!.write(async (tx) => {
    await tx.execute({ sql: 'INSERT INTO marks (who) VALUES (?)', args: [cmd.value] });
    self.postMessage('holding');
    if (cmd.kind === 'hold-forever') await new Promise(() => undefined);
    // A long round commit: the thread is busy inside its write transaction.
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // spin
    }
  });
  self.postMessage('done');
};
