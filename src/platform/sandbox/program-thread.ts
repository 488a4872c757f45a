import { DstpError, type CoreErrorCode } from '../../core/errors.ts';
import type { JsonValue } from '../../core/jcs.ts';
import type { RoundOffload } from '../../core/replay.ts';
import type { IdentifiedTx } from '../../core/tx.ts';
import { SandboxHostError } from './engine.ts';
import type { RoundSpec, ThreadError, ThreadReply, ThreadRequest } from './program-thread-wire.ts';

/**
 * User programs' rounds on a thread of their own (SPEC §7.1: a slow program must not block
 * serving). A transaction that runs to its gas limit holds the thread it runs on for 10-50 ms,
 * and a round may hold a thousand of them: on the serving thread that is seconds without an
 * answer. Here the leader's round awaits the thread while the serving thread goes on; the thread
 * runs the core's own planner and executor with its own sandbox, so results are the same.
 *
 * One thread, rounds one after another (a round is a unit; different subtrees' rounds queue).
 * Where the runtime has no module workers (Node 20's bundle, workerd) `start` gives null and
 * rounds run in-thread as before. A thread that fails is replaced on the next round; the round
 * it was running fails (the leader retries it).
 */
export class ProgramThread {
  #worker: Worker | undefined;
  #jobs = new Map<number, { resolve: (r: ThreadReply) => void; reject: (e: unknown) => void }>();
  #next = 0;
  #closed = false;
  readonly stats = { rounds: 0, failures: 0 };

  /** Null where the runtime cannot run it (module workers: Bun and Deno). */
  static start(): ProgramThread | null {
    const g = globalThis as { Bun?: unknown; Deno?: unknown };
    return typeof Worker === 'function' && (g.Bun !== undefined || g.Deno !== undefined) ? new ProgramThread() : null;
  }

  /** The offload of one round of a user program: plan and execute on the thread. */
  forRound(spec: RoundSpec): RoundOffload {
    return {
      planReads: async (txs: readonly IdentifiedTx[]) => {
        const r = await this.#ask({ kind: 'plan', job: 0, spec, txs });
        if (r.kind !== 'planned') throw new Error('the program thread answered out of turn');
        return r.keys;
      },
      execute: async (txs: readonly IdentifiedTx[], values: ReadonlyMap<string, JsonValue | undefined>) => {
        const r = await this.#ask({ kind: 'execute', job: 0, spec, txs, values: new Map(values) });
        if (r.kind !== 'executed') throw new Error('the program thread answered out of turn');
        this.stats.rounds++;
        return { writes: r.writes, receipts: r.receipts };
      },
    };
  }

  /** Stops the thread; rounds in flight fail. */
  close(): void {
    this.#closed = true;
    this.#kill(new Error('the program thread was closed'));
  }

  #ask(req: ThreadRequest): Promise<ThreadReply> {
    if (this.#closed) return Promise.reject(new Error('the program thread is closed'));
    const job = ++this.#next;
    return new Promise<ThreadReply>((resolve, reject) => {
      this.#jobs.set(job, { resolve, reject });
      this.#thread().postMessage({ ...req, job });
    }).then((r) => {
      if (r.kind === 'error') throw rebuild(r.error);
      return r;
    });
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./program-worker.ts', import.meta.url).href, { type: 'module' });
    (w as Worker & { unref?: () => void }).unref?.();
    w.onmessage = (e: MessageEvent<ThreadReply>) => {
      const j = this.#jobs.get(e.data.job);
      this.#jobs.delete(e.data.job);
      j?.resolve(e.data);
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault?.();
      this.#kill(new Error(`the program thread failed: ${e.message}`));
    };
    this.#worker = w;
    return w;
  }

  #kill(err: Error): void {
    if (this.#worker) {
      if (!this.#closed) this.stats.failures++;
      this.#worker.terminate();
      this.#worker = undefined;
    }
    for (const j of this.#jobs.values()) j.reject(err);
    this.#jobs.clear();
  }
}

/** The thread's error as the kind the executor would have thrown in-thread. */
function rebuild(e: ThreadError): Error {
  if (e.abortsRound) return new SandboxHostError(e.message);
  if (e.code !== undefined) return new DstpError(e.code as CoreErrorCode, e.message, e.details);
  return new Error(e.message);
}
