/**
 * Whose turn it is to write, shared by the threads of one process (one Int32 in a
 * SharedArrayBuffer: 0 = free, else the holder's number).
 *
 * SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps
 * the whole thread (the local driver is synchronous) in steps of 1, 2, 5, 10 ms and more. When the
 * leader thread commits a round, the serving thread would sleep through the commit and then some,
 * answering no request meanwhile. With this lock it waits with `Atomics.waitAsync` instead: its
 * event loop keeps reading, checking and queueing requests, and it is woken the moment the turn is
 * free, so its next group commit starts at once and holds everything that arrived meanwhile.
 *
 * Other processes are still kept apart by SQLite's own lock and busy timeout.
 */
export const SERVING_THREAD = 1;
export const LEADER_THREAD = 2;

export class ThreadWriteLock {
  private readonly cell: Int32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly me: number,
  ) {
    this.cell = new Int32Array(buffer, 0, 1);
  }

  static create(me: number): ThreadWriteLock {
    return new ThreadWriteLock(new SharedArrayBuffer(4), me);
  }

  /**
   * Waits for the turn, at most `timeoutMs`; false when the time ran out (the caller then goes on
   * to SQLite, whose busy timeout decides, exactly as without this lock).
   */
  async acquire(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const held = Atomics.compareExchange(this.cell, 0, 0, this.me);
      if (held === 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await waitWhile(this.cell, held, Math.min(left, 50));
    }
  }

  release(): void {
    if (Atomics.compareExchange(this.cell, 0, this.me, 0) === this.me) Atomics.notify(this.cell, 0);
  }

  /** Frees the turn if thread `owner` holds it: that thread is gone and will never release it. */
  releaseFor(owner: number): void {
    if (Atomics.compareExchange(this.cell, 0, owner, 0) === owner) Atomics.notify(this.cell, 0);
  }
}

type WaitAsync = (a: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };

/** Resolves once the cell no longer holds `value` (or after `ms`). Never blocks the thread. */
function waitWhile(cell: Int32Array, value: number, ms: number): Promise<unknown> {
  const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  if (typeof waitAsync === 'function') {
    const r = waitAsync(cell, 0, value, ms);
    if (r.async) return r.value as Promise<string>;
    return Promise.resolve();
  }
  return new Promise((resolve) => setTimeout(resolve, 1));
}
