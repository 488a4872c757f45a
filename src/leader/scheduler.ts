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
 * The leader's gather time (node.ts). Kicked passes start at least LEADER_MIN_GAP_MS after the
 * previous start, and at least LEADER_BUSY_FACTOR times that pass's duration after its end, never
 * more than the round interval. A round's cost is mostly per round and per touched tree path, so
 * small rounds back to back starve the accepts that share the process; the gap grows only when
 * passes are long, i.e. under load. Measured with bench/node-accept.ts (64 connections, leader on,
 * 2 cores) and bench/node-latency.ts (500 tx/s): a fixed 50 ms gap gave 1,412 tx/s and p50 34 ms,
 * 100 ms 2,910 tx/s and p50 65 ms, 200 ms 3,228 tx/s and p50 117 ms. With a 25 ms floor and the
 * busy factor: 2 → 2,683 tx/s, p50 22 ms; 3 → 3,214 tx/s, p50 29 ms; 5 → 3,245 tx/s, p50 52 ms.
 */
export const LEADER_MIN_GAP_MS = 25;
export const LEADER_BUSY_FACTOR = 3;

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
  /**
   * Kicked passes also wait `busyFactor` times the previous pass's duration after it ended (default
   * 0), capped at `intervalMs`: a pass that took long leaves the process to other work for longer.
   */
  busyFactor?: number;
  pass: () => Promise<unknown>;
  onError?: (err: unknown) => void;
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  const debounceMs = opts.debounceMs ?? 2;
  const minGapMs = opts.minGapMs ?? 0;
  const busyFactor = opts.busyFactor ?? 0;
  let lastStart = -Infinity;
  let lastEnd = -Infinity;
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

  /**
   * Delay for a kicked pass: at least `floor`, not before `minGapMs` after the last start, and not
   * before `busyFactor` times the last pass's duration after its end (that part capped at the interval).
   */
  const kickedDelay = (floor: number) => {
    const busy = lastEnd > lastStart ? Math.min(opts.intervalMs, busyFactor * (lastEnd - lastStart)) : 0;
    return Math.max(floor, lastStart + minGapMs - performance.now(), lastEnd + busy - performance.now());
  };

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
        lastEnd = performance.now();
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
