/**
 * Runs leader passes: every `intervalMs`, and soon after `kick()` (debounced), never two at once in
 * this process. Other processes are kept out by the database lease, not by this loop.
 */
export interface Scheduler {
  /** Ask for a pass soon; calls within `debounceMs` share one pass. */
  kick(): void;
  /** Stops the timer and waits for a running pass to finish. */
  stop(): Promise<void>;
}

export interface SchedulerOptions {
  intervalMs: number;
  debounceMs?: number;
  pass: () => Promise<unknown>;
  onError?: (err: unknown) => void;
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  const debounceMs = opts.debounceMs ?? 2;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let dueAt = Infinity;

  // Only ever moves a pending pass earlier, so a steady stream of kicks cannot starve it.
  const schedule = (delay: number) => {
    if (stopped) return;
    const at = performance.now() + delay;
    if (timer && dueAt <= at) return;
    if (timer) clearTimeout(timer);
    dueAt = at;
    timer = setTimeout(fire, delay);
  };

  const fire = () => {
    timer = null;
    dueAt = Infinity;
    if (running) {
      again = true; // a pass is under way: run once more right after it
      return;
    }
    running = opts
      .pass()
      .then(
        () => undefined,
        (err) => opts.onError?.(err),
      )
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          schedule(0);
        } else schedule(opts.intervalMs);
      });
  };

  schedule(0);
  return {
    kick() {
      if (running) again = true;
      else if (!stopped) schedule(debounceMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
