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

/**
 * The leader's gather time (node.ts). Measured with bench/node-accept.ts at 64 connections (leader
 * on, shared 2-core machine): passes back to back made rounds of a few dozen transactions and cost
 * ~850-1,200 µs of server CPU per accepted tx; 25 ms between kicked passes ~790-1,100, 50 ms
 * ~720-870. The price is latency: 202 -> executed at 500 tx/s went from p50 17.6 / p99 34 ms (25 ms)
 * to p50 34.5 / p99 53 ms (50 ms), against a target of p50 <= 250 ms.
 */
export const LEADER_MIN_GAP_MS = 50;

export interface SchedulerOptions {
  intervalMs: number;
  debounceMs?: number;
  /**
   * Kicked passes start at least this long after the previous pass started (default 0). Under a
   * steady stream of kicks, passes would otherwise run back to back, each taking only what arrived
   * during the last one; when a pass has a large fixed cost (a round commit writes every touched
   * tree path and syncs), a short gather makes each pass take more work for the same cost.
   */
  minGapMs?: number;
  pass: () => Promise<unknown>;
  onError?: (err: unknown) => void;
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  const debounceMs = opts.debounceMs ?? 2;
  const minGapMs = opts.minGapMs ?? 0;
  let lastStart = -Infinity;
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

  /** Delay for a kicked pass: at least `floor`, and not before `minGapMs` after the last start. */
  const kickedDelay = (floor: number) => Math.max(floor, lastStart + minGapMs - performance.now());

  const fire = () => {
    timer = null;
    dueAt = Infinity;
    if (running) {
      again = true; // a pass is under way: run once more right after it
      return;
    }
    lastStart = performance.now();
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
          schedule(kickedDelay(0));
        } else schedule(opts.intervalMs);
      });
  };

  schedule(0);
  return {
    kick() {
      if (running) again = true;
      else if (!stopped) schedule(kickedDelay(debounceMs));
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
