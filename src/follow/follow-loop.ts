import { LEADER_LEASE } from '../leader/leader-pass.ts';
import { PeerError } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';
import { acquireLease, LeaseLostError, localLease, StaleRoundError, type Follow, type LeaseClaim } from '../store/index.ts';
import { liveFollows } from '../store/follows.ts';
import { retryDelayMs } from '../webhooks/backoff.ts';
import { peerFor } from './peer-for.ts';
import { syncFollow, type FollowMemory, type SyncReport } from './sync-follow.ts';

/**
 * The follow loop (SPEC §12): each pass syncs the live follows that are due, under the leader
 * lease, so the instances of one node follow each subtree once. A follow whose origin fails
 * (unreachable, malformed or oversized answers) backs off exponentially and is retried.
 *
 * The lease holder keeps ONE node-wide event stream (`GET /v1/events`) per origin that has a
 * follow in `following`, not one per subtree, so a hub of thousands of follows holds a stream per
 * node it follows. While an origin's stream is open, its `following` follows are synced when the
 * stream names a round of theirs, and otherwise only every 10 intervals, or less often so that at
 * most 50 of them are polled per second (for the audits, and in case an event was missed);
 * without a stream every pass polls them. So an idle hub does not ask every origin for every head
 * every second.
 */
export interface FollowPassReport {
  leader: boolean;
  synced: { subtree: string; report: SyncReport }[];
  failed: { subtree: string; error: string }[];
}

export interface FollowLoop {
  pass(): Promise<FollowPassReport>;
  /** Closes the event streams. */
  close(): void;
}

const BACKOFF_MAX_MS = 30_000;
/**
 * A caught-up follow whose origin's stream is open is polled every this many intervals, or so
 * that at most IDLE_POLLS_PER_S such follows are polled per second, whichever is slower.
 */
const IDLE_POLL_INTERVALS = 10;
const IDLE_POLLS_PER_S = 50;

export function createFollowLoop(ctx: NodeContext, opts: { kick: () => void; watch: boolean }): FollowLoop {
  const backoff = new Map<string, { failures: number; until: number }>();
  const memory = new Map<string, FollowMemory & { due: number }>();
  /** Open node-wide streams, by origin. */
  const streams = new Map<string, AbortController>();

  const unwatch = (origin: string) => {
    streams.get(origin)?.abort();
    streams.delete(origin);
  };
  const watch = (origin: string) => {
    if (!opts.watch || streams.has(origin)) return;
    const ac = new AbortController();
    streams.set(origin, ac);
    void (async () => {
      try {
        for await (const round of peerFor(ctx, origin).events(null, undefined, ac.signal)) {
          const mem = memory.get(round.subtree);
          if (!mem) continue; // a subtree of that node this node does not follow
          mem.due = 0;
          opts.kick();
        }
      } catch (e) {
        ctx.log.debug('origin event stream ended', { origin, error: e instanceof Error ? e.message : String(e) });
      } finally {
        // Reopened by a later pass (which polls meanwhile).
        if (streams.get(origin) === ac) streams.delete(origin);
      }
    })();
  };

  return {
    async pass() {
      const report: FollowPassReport = { leader: false, synced: [], failed: [] };
      const live = await liveFollows(ctx.db);
      const idlePollMs = Math.max(ctx.config.followIntervalMs * IDLE_POLL_INTERVALS, (live.length * 1000) / IDLE_POLLS_PER_S);
      const liveIds = new Set(live.map((f) => f.subtree));
      for (const id of [...memory.keys()]) if (!liveIds.has(id)) memory.delete(id);
      if (live.length === 0) {
        for (const o of [...streams.keys()]) unwatch(o);
        return report;
      }
      // As in the leader pass: no renewal write while this process holds more than half the TTL
      // (every commit is fenced by holder + token anyway).
      const ttl = ctx.config.leaseTtlMs;
      const held = localLease(ctx.db, LEADER_LEASE);
      const grant =
        held && held.holder === ctx.instanceId && held.expiresAt - ctx.now() > ttl / 2
          ? { token: held.token }
          : await acquireLease(ctx.db, { name: LEADER_LEASE, holder: ctx.instanceId, ttlMs: ttl, now: ctx.now() });
      if (!grant) {
        for (const o of [...streams.keys()]) unwatch(o);
        return report;
      }
      report.leader = true;
      const claim: LeaseClaim = { name: LEADER_LEASE, holder: ctx.instanceId, token: grant.token };
      const watched = new Set<string>();
      for (const f of live) {
        const b = backoff.get(f.subtree);
        if (b && b.until > ctx.now()) continue;
        let mem = memory.get(f.subtree);
        if (!mem) memory.set(f.subtree, (mem = { auditFrom: 0, due: 0 }));
        if (f.status === 'following' && streams.has(f.origin) && mem.due > ctx.now()) {
          watched.add(f.origin);
          continue;
        }
        try {
          const r = await syncFollow(ctx, peerFor(ctx, f.origin), f, claim, mem);
          backoff.delete(f.subtree);
          report.synced.push({ subtree: f.subtree, report: r });
          let due = 0;
          if (r.status === 'following') {
            // A stream opened just now may miss a round final while it connects: poll once more soon.
            const fresh = !streams.has(f.origin);
            watch(f.origin);
            watched.add(f.origin);
            if (streams.has(f.origin)) due = ctx.now() + (fresh ? ctx.config.followIntervalMs : idlePollMs);
          }
          mem.due = due;
          if (r.status === 'syncing') opts.kick(); // more to catch up: go on soon
        } catch (e) {
          if (e instanceof LeaseLostError) return report;
          if (e instanceof StaleRoundError) continue; // another writer moved it (a dropped follow): next pass
          const failures = (b?.failures ?? 0) + 1;
          backoff.set(f.subtree, { failures, until: ctx.now() + retryDelayMs(failures, { baseMs: ctx.config.followIntervalMs, maxMs: BACKOFF_MAX_MS }) });
          mem.due = 0;
          const error = e instanceof Error ? e.message : String(e);
          report.failed.push({ subtree: f.subtree, error });
          if (e instanceof PeerError) ctx.log.info('origin unavailable; backing off', { subtree: f.subtree, origin: f.origin, failures, error });
          else ctx.log.error('follow sync failed', { subtree: f.subtree, error });
        }
      }
      for (const o of [...streams.keys()]) if (!watched.has(o)) unwatch(o);
      return report;
    },
    close() {
      for (const o of [...streams.keys()]) unwatch(o);
    },
  };
}
