/**
 * Entry of the leader thread (leader-thread.ts): a second node over its own connection to the
 * same database file, with no HTTP server, that runs the leader scheduler, webhook deliveries and
 * checkpoints. It is exactly what a second process on the same file would be (the lease and
 * fencing tokens keep them apart), on a thread of the serving process instead.
 */
import type { Config } from '../config.ts';
import { runLeaderPass, type PassReport } from '../leader/leader-pass.ts';
import { createNode, type DstpNode } from '../node.ts';
import { openDatabase } from '../store/db.ts';
import { LEADER_THREAD, ThreadWriteLock } from '../store/thread-write-lock.ts';

export type LeaderThreadRequest =
  | { kind: 'init'; config: Config; secret: Uint8Array; lock: SharedArrayBuffer }
  | { kind: 'kick' }
  | { kind: 'kick-webhooks' }
  | { kind: 'tick'; id: number }
  | { kind: 'close' };

export type LeaderThreadReply =
  | { kind: 'ready' }
  | { kind: 'failed'; error: string }
  | { kind: 'closed' }
  | { kind: 'ticked'; id: number; report?: PassReport; error?: string };

declare const self: { onmessage: ((e: MessageEvent<LeaderThreadRequest>) => void) | null; postMessage(msg: LeaderThreadReply): void };

let node: Promise<DstpNode> | null = null;

self.onmessage = (e) => {
  const msg = e.data;
  switch (msg.kind) {
    case 'init':
      node = start(msg.config, msg.secret, new ThreadWriteLock(msg.lock, LEADER_THREAD));
      node.then(
        () => self.postMessage({ kind: 'ready' }),
        (err) => self.postMessage({ kind: 'failed', error: String(err) }),
      );
      return;
    case 'kick':
      void node?.then((n) => n.ctx.kickLeader());
      return;
    case 'tick':
      void (node ?? Promise.reject(new Error('never started')))
        .then((n) => runLeaderPass(n.ctx))
        .then(
          (report) => self.postMessage({ kind: 'ticked', id: msg.id, report }),
          (err) => self.postMessage({ kind: 'ticked', id: msg.id, error: String(err) }),
        );
      return;
    case 'kick-webhooks':
      void node?.then((n) => n.ctx.kickWebhooks?.());
      return;
    case 'close':
      void (node ?? Promise.reject(new Error('never started')))
        .then((n) => n.close())
        .catch(() => undefined)
        .finally(() => self.postMessage({ kind: 'closed' }));
      return;
  }
};

async function start(config: Config, secret: Uint8Array, threadLock: ThreadWriteLock): Promise<DstpNode> {
  const db = await openDatabase({ url: config.databaseUrl, threadLock });
  // Round headers and checkpoints are a few signatures a second: no crypto threads of its own.
  return createNode({ ...config, cryptoThreads: 0, leaderThread: false }, { db, nodeSecret: secret, scheduler: true, webhooks: true });
}
