import {
  LeaseLostError,
  StaleRoundError,
  TxLogMismatchError,
  acquireLease,
  localLease,
  pendingSubtrees,
  type LeaseClaim,
  type LeaseGrant,
} from '../store/index.ts';
import type { NodeContext } from '../services/context.ts';
import { syncChildRoots } from '../services/child-roots.ts';
import { roundBlockers } from '../store/halts.ts';
import { runRound, type RoundReport } from './run-round.ts';

export const LEADER_LEASE = 'leader';

export interface PassReport {
  leader: boolean;
  /** Nothing was pending: the pass ended without touching the lease. */
  idle?: boolean;
  token?: number;
  rounds: RoundReport[];
  /** Subtrees skipped this pass because another writer moved them on (harmless; retried next pass). */
  skipped: { subtree: string; reason: string }[];
  leaseLost?: boolean;
}

/**
 * One leader pass: append the node calls that carry nested subtrees' heads into their parents
 * (services/child-roots.ts), take the lease (renewed only when half its TTL is gone), then run a round for every subtree with
 * pending transactions. Every commit re-checks the lease (fencing), so a pass that outlives its lease
 * writes nothing more. Stops early when the lease would expire before the next round could finish.
 */
export async function runLeaderPass(ctx: NodeContext): Promise<PassReport> {
  // Nested subtrees: carry each child's new final head into its parent's log first (a `sys_child`
  // node call, at most one pending per child), so this pass's round of the parent records it.
  await syncChildRoots(ctx);
  // An idle node must not write: look for work with a read before taking the (durable) lease.
  // Subtrees whose open proposal still waits for co-signatures, and halted ones, are not work.
  let page = await pendingSubtrees(ctx.db, 256);
  let ids = await actionable(ctx, page);
  for (let i = 0; i < 64 && ids.length === 0 && page.length === 256; i++) {
    page = await pendingSubtrees(ctx.db, 256, page[page.length - 1]!);
    ids = await actionable(ctx, page);
  }
  if (ids.length === 0) return { leader: false, idle: true, rounds: [], skipped: [] };
  const ttl = ctx.config.leaseTtlMs;
  const renew = () => acquireLease(ctx.db, { name: LEADER_LEASE, holder: ctx.instanceId, ttlMs: ttl, now: ctx.now() });
  // The renewal is a durable write (~1 ms of CPU, most of it the COMMIT's sync): skip it while the
  // row still names this process with more than half the TTL left. Safe because the fence at every
  // commit is holder + token (assertLease), which a renewal never changes; a released lease
  // (expires_at 0) or another holder shows here and is renewed or contested as before.
  const held = localLease(ctx.db, LEADER_LEASE);
  let renewed = !(held && held.holder === ctx.instanceId && held.expiresAt - ctx.now() > ttl / 2);
  let grant: LeaseGrant | null = renewed ? await renew() : { token: held!.token, expiresAt: held!.expiresAt };
  if (!grant) return { leader: false, rounds: [], skipped: [] };
  const claim: LeaseClaim = { name: LEADER_LEASE, holder: ctx.instanceId, token: grant.token };
  const report: PassReport = { leader: true, token: grant.token, rounds: [], skipped: [] };

  for (;;) {
    for (const id of ids) {
      if (ctx.now() > grant.expiresAt - ttl / 2) {
        // Renew once per pass, then stop rather than race expiry (the next pass renews).
        if (renewed) return report;
        renewed = true;
        grant = await renew();
        if (!grant || grant.token !== claim.token) {
          report.leaseLost = true;
          return report;
        }
      }
      try {
        const r = await runRound(ctx, id, claim);
        if (r) report.rounds.push(r);
      } catch (err) {
        if (err instanceof LeaseLostError) {
          report.leaseLost = true;
          ctx.log.info('leader lease lost; stopping this pass', { token: grant.token });
          return report;
        }
        if (!(err instanceof StaleRoundError || err instanceof TxLogMismatchError)) {
          // One broken subtree must not stall the others; it is retried every pass and logged.
          ctx.log.error('round failed', { subtree: id, error: String(err) });
        }
        report.skipped.push({ subtree: id, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    if (page.length === 0) break;
    page = await pendingSubtrees(ctx.db, 256, page[page.length - 1]!);
    if (page.length === 0) break;
    ids = await actionable(ctx, page);
  }
  return report;
}

/**
 * The subtrees of `page` a round can be made for now: not halted, and without an open proposal
 * (which ends by co-signatures or an expiry certificate, not by the leader).
 */
async function actionable(ctx: NodeContext, page: readonly string[]): Promise<string[]> {
  if (page.length === 0) return [];
  const { open, halted } = await roundBlockers(ctx.db, page);
  return page.filter((id) => !halted.has(id) && !open.has(id));
}
