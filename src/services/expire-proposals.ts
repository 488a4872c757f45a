import { expireProposal } from '../store/halts.ts';
import type { LeaseClaim, Proposal } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import type { SubtreeFacts } from './subtree-cache.ts';

/** SPEC §5: "after 3 consecutive expiries the subtree is halted". */
export const HALT_AFTER_EXPIRIES = 3;

export type ExpiryOutcome = 'waiting' | 'expired' | 'halted';

/**
 * Leader step for an open proposal: a multisig proposal older than the mode's `proposalTimeoutMs`
 * (judged by the node's clock against the proposal's creation time) expires, behind the lease, with
 * its `proposal.expired` event — and the third in a row at one height halts the subtree. Its
 * transactions were never marked executed, so they stay pending in their log order and the next
 * proposal takes them again. PoA and pos proposals do not expire: a pos validator may sign only
 * one header per height, so a second proposal at the same height could never gather honest stake.
 */
export async function expireIfDue(ctx: NodeContext, facts: SubtreeFacts, open: Proposal, lease: LeaseClaim): Promise<ExpiryOutcome> {
  if (facts.mode.type !== 'multisig') return 'waiting';
  const now = ctx.now();
  if (now - open.createdAt < facts.mode.proposalTimeoutMs) return 'waiting';
  const r = await expireProposal(ctx.db, {
    hash: open.hash,
    subtree: open.subtree,
    height: open.height,
    haltAfter: HALT_AFTER_EXPIRIES,
    lease,
    now,
    eventData: { txCount: open.txIds.length, signatures: open.signatures.length },
  });
  if (!r.expired) return 'waiting';
  ctx.log.info('proposal expired', { subtree: open.subtree, height: open.height, hash: open.hash, consecutive: r.consecutive });
  if (r.halt !== undefined) {
    ctx.log.info('subtree halted after consecutive expired proposals', { subtree: open.subtree, halt: r.halt, expiries: r.consecutive });
    return 'halted';
  }
  return 'expired';
}
