import { LEADER_LEASE } from '../leader/leader-pass.ts';
import { PeerError } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';
import { acquireLease, LeaseLostError, localLease, StaleRoundError, type Follow, type LeaseClaim } from '../store/index.ts';
import { liveFollows } from '../store/follows.ts';
import { retryDelayMs } from '../webhooks/backoff.ts';
import { peerFor } from './peer-for.ts';
import { syncFollow, type FollowMemory, type SyncReport } from './sync-follow.ts';

/**
 * The follow loop (SPEC §12): each pass syncs every live follow, under the leader lease, so the
 * instances of one node follow each subtree once. A follow whose origin fails (unreachable,
 * malformed or oversized answers) backs off exponentially and is retried; the origin's event
 * stream, held open by the lease holder for each live follow, kicks a pass as soon as a round is
 * final there. Polling still runs every interval, so a lost stream only costs latency.
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

export function createFollowLoop(ctx: NodeContext, opts: { kick: () => void; watch: boolean }): FollowLoop {
  const backoff = new Map<string, { failures: number; until: number }>();
  const memory = new Map<string, FollowMemory>();
  const watchers = new Map<string, AbortController>();

  const unwatch = (subtree: string) => {
    watchers.get(subtree)?.abort();
    watchers.delete(subtree);
  };
  const watch = (f: Follow) => {
    if (!opts.watch || watchers.has(f.subtree)) return;
    const ac = new AbortController();
    watchers.set(f.subtree, ac);
    void (async () => {
      try {
        for await (const _ of peerFor(ctx, f.origin).events(f.subtree, undefined, ac.signal)) opts.kick();
      } catch (e) {
        ctx.log.debug('origin event stream ended', { subtree: f.subtree, error: e instanceof Error ? e.message : String(e) });
      } finally {
        // Reopened by a later pass (which polls meanwhile).
        if (watchers.get(f.subtree) === ac) watchers.delete(f.subtree);
      }
    })();
  };

  return {
    async pass() {
      const report: FollowPassReport = { leader: false, synced: [], failed: [] };
      const live = await liveFollows(ctx.db);
      const liveIds = new Set(live.map((f) => f.subtree));
      for (const id of [...watchers.keys()]) if (!liveIds.has(id)) unwatch(id);
      if (live.length === 0) return report;
      // As in the leader pass: no renewal write while this process holds more than half the TTL
      // (every commit is fenced by holder + token anyway).
      const ttl = ctx.config.leaseTtlMs;
      const held = localLease(ctx.db, LEADER_LEASE);
      const grant =
        held && held.holder === ctx.instanceId && held.expiresAt - ctx.now() > ttl / 2
          ? { token: held.token }
          : await acquireLease(ctx.db, { name: LEADER_LEASE, holder: ctx.instanceId, ttlMs: ttl, now: ctx.now() });
      if (!grant) {
        for (const id of [...watchers.keys()]) unwatch(id);
        return report;
      }
      report.leader = true;
      const claim: LeaseClaim = { name: LEADER_LEASE, holder: ctx.instanceId, token: grant.token };
      for (const f of live) {
        const b = backoff.get(f.subtree);
        if (b && b.until > ctx.now()) continue;
        let mem = memory.get(f.subtree);
        if (!mem) memory.set(f.subtree, (mem = { auditFrom: 0 }));
        try {
          const r = await syncFollow(ctx, peerFor(ctx, f.origin), f, claim, mem);
          backoff.delete(f.subtree);
          report.synced.push({ subtree: f.subtree, report: r });
          if (r.status === 'halted') unwatch(f.subtree);
          else if (r.status === 'following') watch(f);
          if (r.status === 'syncing') opts.kick(); // more to catch up: go on soon
        } catch (e) {
          if (e instanceof LeaseLostError) return report;
          if (e instanceof StaleRoundError) continue; // another writer moved it (a dropped follow): next pass
          const failures = (b?.failures ?? 0) + 1;
          backoff.set(f.subtree, { failures, until: ctx.now() + retryDelayMs(failures, { baseMs: ctx.config.followIntervalMs, maxMs: BACKOFF_MAX_MS }) });
          const error = e instanceof Error ? e.message : String(e);
          report.failed.push({ subtree: f.subtree, error });
          if (e instanceof PeerError) ctx.log.info('origin unavailable; backing off', { subtree: f.subtree, origin: f.origin, failures, error });
          else ctx.log.error('follow sync failed', { subtree: f.subtree, error });
          unwatch(f.subtree);
        }
      }
      return report;
    },
    close() {
      for (const id of [...watchers.keys()]) unwatch(id);
    },
  };
}
