import type { Database } from './database.ts';
import { appendGroup, NonceCache, type AcceptItem, type AcceptResult, type SubtreeRoot } from './tx-log.ts';

export interface GroupCommitterOptions {
  /** Most transactions per write transaction (a batch request is never split). Default 1000. */
  maxGroup?: number;
  /** Clock for `accepted_at`; injectable for tests. */
  now?: () => number;
  /** Most pending transactions per (subtree, sender); 0 (default) = no limit. */
  maxPendingPerSender?: number;
}

/** How long a head read by a group commit stands in for a fresh read (see `recentHead`). */
const HEAD_FRESH_MS = 50;
const MAX_HEADS = 10_000;

interface Entry {
  items: readonly AcceptItem[];
  resolve: (r: AcceptResult[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Appends transactions to the log with group commit: while one write transaction is in flight,
 * new arrivals queue; the next transaction takes everything queued (up to `maxGroup`) and commits
 * it with ONE durable COMMIT. At low load a lone call starts its transaction at once (no timer), at
 * high load the fsync cost is shared by the whole group.
 *
 * Each promise resolves only after the COMMIT that holds its item returned. If the transaction
 * fails, every call in that group is rejected with the error and nothing of the group is stored.
 */
export class GroupCommitter {
  private readonly maxGroup: number;
  private readonly now: () => number;
  private readonly maxPending: number;
  private queue: Entry[] = [];
  private running: Promise<void> | null = null;
  /** Senders' next nonces between groups (checked against the log size in every transaction). */
  private readonly nonces = new NonceCache();
  /** Heads of subtrees as the latest group read them, with the database's commit count after it. */
  private readonly heads = new Map<string, SubtreeRoot & { commits: number; at: number }>();
  /** Counters for benchmarks and metrics. */
  readonly stats = { groups: 0, items: 0, largestGroup: 0 };

  constructor(
    private readonly db: Database,
    opts: GroupCommitterOptions = {},
  ) {
    this.maxGroup = opts.maxGroup ?? 1000;
    this.now = opts.now ?? Date.now;
    this.maxPending = opts.maxPendingPerSender ?? 0;
  }

  /** Appends one transaction (POST /v1/transactions). */
  async accept(item: AcceptItem): Promise<AcceptResult> {
    const [r] = await this.enqueue([item]);
    return r!;
  }

  /** Appends a batch in one group, decided in order (POST /v1/transactions/batch). */
  acceptBatch(items: readonly AcceptItem[]): Promise<AcceptResult[]> {
    if (items.length === 0) return Promise.resolve([]);
    return this.enqueue(items);
  }

  /**
   * The head (height, root) of `subtree` as the latest committed group read it, while that is
   * still the latest write of this process (a round it commits moves `db.commits`) and at most
   * `HEAD_FRESH_MS` old (rounds that other processes sharing the database commit). Lets
   * admission skip its own head read under load; undefined otherwise.
   */
  recentHead(subtree: string): SubtreeRoot | undefined {
    const h = this.heads.get(subtree);
    return h && h.commits === this.db.commits && this.now() - h.at <= HEAD_FRESH_MS ? h : undefined;
  }

  /** Resolves when everything queued so far has been committed (or failed). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private enqueue(items: readonly AcceptItem[]): Promise<AcceptResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.running ??= this.loop();
    });
  }

  private async loop(): Promise<void> {
    try {
      // The local driver is synchronous: a flush started in this microtask would run BEGIN…COMMIT
      // (fsync included) before the event loop reads the other requests already waiting on their
      // sockets, so every group would hold one item. One macrotask turn lets them join first.
      await yieldToEventLoop();
      while (this.queue.length > 0) await this.flushOne();
    } finally {
      this.running = null;
    }
  }

  private async flushOne(): Promise<void> {
    let group: Entry[] = [];
    let results: AcceptResult[][] = [];
    const seen = new Map<string, SubtreeRoot>();
    let commits = 0;
    try {
      await this.db.write(async (tx) => {
        // Writes are serialized: this transaction's COMMIT will be the next one.
        commits = this.db.commits + 1;
        // Taken once the write lock is ours, so arrivals during the wait still join this group.
        group = this.take();
        const items = group.flatMap((e) => e.items);
        const flat = await appendGroup(tx, items, this.now(), this.nonces, this.maxPending, seen);
        results = [];
        let at = 0;
        for (const e of group) {
          results.push(flat.slice(at, at + e.items.length));
          at += e.items.length;
        }
      });
      this.nonces.commitStaged();
      if (this.heads.size + seen.size > MAX_HEADS) this.heads.clear();
      const at = this.now();
      for (const [id, h] of seen) this.heads.set(id, { ...h, commits, at });
    } catch (err) {
      this.nonces.dropStaged();
      if (group.length === 0) group = this.take(); // failed before taking: fail the next group, do not spin
      for (const e of group) e.reject(err);
      return;
    }
    const n = group.reduce((s, e) => s + e.items.length, 0);
    this.stats.groups++;
    this.stats.items += n;
    this.stats.largestGroup = Math.max(this.stats.largestGroup, n);
    group.forEach((e, i) => e.resolve(results[i]!));
  }

  private take(): Entry[] {
    let count = 0;
    let size = 0;
    for (const e of this.queue) {
      if (count > 0 && size + e.items.length > this.maxGroup) break;
      count++;
      size += e.items.length;
    }
    return this.queue.splice(0, count);
  }
}

/** Resolves after pending I/O callbacks ran (setImmediate where the runtime has it). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}
