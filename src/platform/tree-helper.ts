import type { SideHelper, SideJob } from '../core/smt/apply-side.ts';
import { SIDE_DONE, SIDE_RUNNING } from '../core/smt/node-ids.ts';

/**
 * A second thread for a `MemoryNodeStore`'s large batches (src/core/smt/apply-side.ts): pass it as
 * `new MemoryNodeStore({ helper })`. A batch of thousands of writes is then walked by two threads
 * at once over the store's shared memory, each claiming subtrees from its own end until they
 * meet; the root is the same as with one.
 *
 * The store blocks in `wait` until the helper answers, normally at once, as there was nothing
 * left to claim. A helper that does not answer within a generous bound (its thread died or hung)
 * is stopped for good, and the store walks what it claimed itself: the helper can make a batch
 * faster, never wrong or lost. Under Bun the thread never keeps the process alive; under Deno it
 * does until `close()`.
 */
export interface TreeHelper extends SideHelper {
  /**
   * Settles once the thread has loaded (true) or failed to (false). Until then the store works
   * alone, so a batch never waits for the thread to start; await it to have the first batch helped.
   */
  readonly ready: Promise<boolean>;
  /** Jobs sent; those it could not finish (the store walked them); time the store waited; jobs given up on. */
  readonly stats: { jobs: number; unfinished: number; waitedMs: number; gaveUp: number };
  /** The most of a batch's writes it is offered (the store's default when undefined). */
  readonly share: number | undefined;
  /** Stops the thread; the store then works alone. */
  close(): void;
}

/** Waiting longer than this many times the caller's own part (and at least MIN_PATIENCE_MS) means the helper is gone. */
const PATIENCE = 20;
const MIN_PATIENCE_MS = 5_000;

type Unref = { unref?: () => void };

/** Whether this runtime can run one: module workers, shared memory and Atomics.wait (Bun, Deno; not Node 20 or Workers). */
export function treeHelperSupported(): boolean {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  return typeof Worker === 'function' && typeof SharedArrayBuffer === 'function' && (g.Bun !== undefined || g.Deno !== undefined);
}

/** Starts a helper thread; null where the runtime cannot run one. `share`: the most of a batch it is offered. */
export function startTreeHelper(opts: { share?: number } = {}): TreeHelper | null {
  return treeHelperSupported() ? new WorkerTreeHelper(opts.share) : null;
}

class WorkerTreeHelper implements TreeHelper {
  readonly stats = { jobs: 0, unfinished: 0, waitedMs: 0, gaveUp: 0 };
  private readonly worker: Worker;
  private dead = false;
  private loaded = false;
  private startedAt = 0;
  readonly ready: Promise<boolean>;
  private settle: (loaded: boolean) => void = () => {};

  constructor(readonly share: number | undefined) {
    this.worker = new Worker(new URL('./tree-helper-worker.ts', import.meta.url).href, { type: 'module' });
    (this.worker as Worker & Unref).unref?.();
    this.ready = new Promise<boolean>((resolve) => (this.settle = resolve));
    this.worker.onmessage = (e: MessageEvent<unknown>) => {
      if (e.data !== 'ready' || this.dead) return;
      this.loaded = true;
      this.settle(true);
    };
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault?.();
      this.close();
    };
    this.worker.addEventListener('messageerror', () => this.close());
    this.worker.addEventListener('close', () => {
      this.dead = true;
      this.settle(false);
    });
  }

  start(job: SideJob): boolean {
    if (this.dead || !this.loaded) return false;
    this.stats.jobs++;
    this.startedAt = performance.now();
    this.worker.postMessage(job);
    return true;
  }

  wait(job: SideJob): boolean {
    if (this.dead) return false;
    const from = performance.now();
    const limit = Math.max(MIN_PATIENCE_MS, PATIENCE * (from - this.startedAt));
    while (Atomics.load(job.out, 0) === SIDE_RUNNING) {
      const left = limit - (performance.now() - from);
      if (left <= 0) {
        this.stats.gaveUp++;
        this.close();
        return false;
      }
      Atomics.wait(job.out, 0, SIDE_RUNNING, Math.min(left, 100));
    }
    this.stats.waitedMs += performance.now() - from;
    if (Atomics.load(job.out, 0) !== SIDE_DONE) this.stats.unfinished++;
    return true;
  }

  close(): void {
    if (this.dead) return;
    this.dead = true;
    this.settle(false);
    this.worker.terminate();
  }
}
