/**
 * Exponential back-off with "equal jitter": the n-th retry waits between half and all of
 * min(max, base·2^(n-1)), so retries of many deliveries spread out yet never come back at once.
 * A receiver's `Retry-After` (429/503) is honoured up to `maxMs`.
 */
export function retryDelayMs(
  failedAttempt: number,
  o: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
  retryAfterMs: number | null = null,
): number {
  const step = Math.min(o.maxMs, o.baseMs * 2 ** Math.max(0, failedAttempt - 1));
  const jittered = step / 2 + (random() * step) / 2;
  return Math.round(Math.min(o.maxMs, Math.max(jittered, retryAfterMs ?? 0)));
}

/** `Retry-After` as delay-seconds or an HTTP date → ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^[0-9]{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
