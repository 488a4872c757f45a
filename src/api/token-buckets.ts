/**
 * Token buckets by key: each key may spend `rate` tokens a second and save up to `burst`. Memory
 * is bounded: past `maxKeys`, the least recently used key is forgotten (it comes back full, which
 * only ever errs toward letting a request through).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes `n` tokens: 0 when granted, else the seconds until they would be there (nothing taken). */
  take(key: string, n = 1): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order is recency order
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    } else {
      b = { tokens: this.burst, at: t };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (b.tokens >= n) {
      b.tokens -= n;
      return 0;
    }
    return Math.ceil((n - b.tokens) / this.rate);
  }
}
