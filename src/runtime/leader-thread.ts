import type { Config } from '../config.ts';
import type { PassReport } from '../leader/leader-pass.ts';
import { LEADER_THREAD, type ThreadWriteLock } from '../store/thread-write-lock.ts';
import type { LeaderThreadReply, LeaderThreadRequest } from './leader-worker.ts';

/**
 * The leader scheduler, webhook deliveries and checkpoints on a thread of their own. Executing a
 * round costs the serving thread about as much CPU per transaction as accepting it; on its own
 * thread, with its own connection, it runs next to the accepts instead of between them.
 *
 * Nothing new is needed for safety: the thread is one more instance on the database file, kept
 * apart from the others by the lease and fencing tokens, as separate processes are; both threads
 * take write turns through a ThreadWriteLock so that waiting never freezes the serving thread.
 *
 * If the thread dies, the process must end: a thread that dies inside a write transaction leaves
 * its connection, and SQLite's write lock, behind in the process (tested in
 * thread-write-lock.test.ts), and no later write of this process could commit. `onFatal` is
 * called; the entry point exits, and a restarted process carries on (every acknowledged
 * transaction is durable, the lease expires after `DSTP_LEASE_TTL_MS`).
 */
export interface LeaderThread {
  kick(): void;
  kickWebhooks(): void;
  /** One leader pass on the thread, now (POST /v1/leader/tick). */
  pass(): Promise<PassReport>;
  /** Lets the thread's node stop (its last round, its lease handed back), then ends the thread. */
  close(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 15_000;

/** `auto`: on for a plain embedded file (not a replica) on Bun or Deno with more than one core. */
export function leaderThreadWanted(config: Config): boolean {
  if (config.leaderThread === false) return false;
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  const supported = typeof Worker === 'function' && (g.Bun !== undefined || g.Deno !== undefined);
  const local = config.databaseUrl.startsWith('file:') && !config.databaseSyncUrl;
  if (config.leaderThread === true) return supported && local;
  const cores = typeof navigator !== 'undefined' && typeof navigator.hardwareConcurrency === 'number' ? navigator.hardwareConcurrency : 1;
  return supported && local && cores > 1;
}

export async function startLeaderThread(
  config: Config,
  secret: Uint8Array,
  lock: ThreadWriteLock,
  onFatal: (why: string) => void,
): Promise<LeaderThread> {
  let worker: Worker | null = null;
  let closing = false;
  let onClosed: (() => void) | null = null;
  const ticks = new Map<number, { resolve: (r: PassReport) => void; reject: (e: Error) => void }>();
  let nextTick = 0;
  const failTicks = (why: string) => {
    for (const t of ticks.values()) t.reject(new Error(`leader thread stopped: ${why}`));
    ticks.clear();
  };

  const spawn = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new Worker(new URL('./leader-worker.ts', import.meta.url).href, { type: 'module' });
      worker = w;
      let started = false;
      const died = (why: string) => {
        if (worker !== w) return;
        worker = null;
        failTicks(why);
        // A thread that died mid-write never gives its turn back.
        lock.releaseFor(LEADER_THREAD);
        try {
          w.terminate();
        } catch {
          // already gone
        }
        if (closing) {
          onClosed?.();
          return;
        }
        if (!started) {
          reject(new Error(`leader thread failed to start: ${why}`));
          return;
        }
        onFatal(why);
      };
      w.onmessage = (e: MessageEvent<LeaderThreadReply>) => {
        const r = e.data;
        if (r.kind === 'ready') {
          started = true;
          resolve();
        } else if (r.kind === 'ticked') {
          const t = ticks.get(r.id);
          ticks.delete(r.id);
          if (r.report) t?.resolve(r.report);
          else t?.reject(new Error(r.error ?? 'leader pass failed'));
        } else if (r.kind === 'failed') died(r.error);
        else if (r.kind === 'closed') {
          worker = null;
          failTicks('closed');
          lock.releaseFor(LEADER_THREAD);
          w.terminate();
          onClosed?.();
        }
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        died(e.message || 'uncaught error');
      };
      w.addEventListener('close', () => died('thread exited'));
      const init: LeaderThreadRequest = { kind: 'init', config, secret: secret.slice(), lock: lock.buffer };
      w.postMessage(init);
    });

  await spawn();
  const send = (msg: LeaderThreadRequest) => {
    try {
      worker?.postMessage(msg);
    } catch {
      // a thread that is going away; its successor polls on its own interval
    }
  };
  return {
    kick: () => send({ kind: 'kick' }),
    kickWebhooks: () => send({ kind: 'kick-webhooks' }),
    pass: () =>
      new Promise<PassReport>((resolve, reject) => {
        if (!worker) {
          reject(new Error('leader thread is not running'));
          return;
        }
        const id = nextTick++;
        ticks.set(id, { resolve, reject });
        send({ kind: 'tick', id });
      }),
    close: () => {
      closing = true;
      const w = worker;
      if (!w) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          w.terminate();
          resolve();
        }, CLOSE_TIMEOUT_MS);
        onClosed = () => {
          clearTimeout(timer);
          resolve();
        };
        send({ kind: 'close' });
      });
    },
  };
}
