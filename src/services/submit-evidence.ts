import { ApiError } from '../api/problem.ts';
import { parseEvidence, verifyEvidence } from '../core/consensus/evidence.ts';
import { asJson } from '../core/jcs.ts';
import { toHex } from '../core/hex.ts';
import { txId, type Tx } from '../core/tx.ts';
import { evidenceAgainst, getEvidence, recordEvidence } from '../store/evidence.ts';
import { subtreeHead } from '../store/index.ts';
import { modeAt } from './consensus-view.ts';
import type { NodeContext } from './context.ts';

export interface EvidenceView {
  /** `digest("evidence", …)` of the equivocation (docs/consensus.md). */
  id: string;
  subtree: string;
  validator: string;
  height: number;
  /** The `slash` transaction that carries the evidence into the subtree's log. */
  tx: string;
  createdAt: number;
}

/**
 * POST /v1/evidence (SPEC §5, pos): two conflicting round headers for one subtree and height,
 * both signed by one validator. Verified in full before anything is written (400
 * invalid_evidence naming the failing link); then recorded together with a `slash` transaction
 * signed by the node key, in one write transaction, so the next round slashes the validator —
 * and every replica re-verifies the evidence when it executes that transaction. The same evidence
 * again is 409 evidence_known; evidence against a validator already slashed is 409
 * already_slashed. Neither writes anything.
 */
export async function submitEvidence(ctx: NodeContext, body: unknown): Promise<{ status: 202; body: EvidenceView }> {
  const evidence = parseEvidence(body);
  const facts = verifyEvidence(evidence, ctx.hash);
  if (facts.network !== ctx.config.network) {
    throw new ApiError('network_mismatch', `this node serves network "${ctx.config.network}", not "${facts.network}"`, { expected: ctx.config.network });
  }
  const sub = await ctx.subtrees.get(facts.subtree);
  if (!sub) throw new ApiError('unknown_subtree', `no subtree ${facts.subtree} on this node`);
  if (sub.mode.type !== 'pos') throw new ApiError('invalid_evidence', `subtree ${facts.subtree} is ${sub.mode.type}; equivocation evidence applies to pos subtrees`);
  const known = await getEvidence(ctx.db, facts.id);
  if (known) throw new ApiError('evidence_known', `evidence ${facts.id} was accepted before (slash transaction ${known.tx})`, { evidence: viewOf(known) });
  const earlier = await evidenceAgainst(ctx.db, facts.subtree, facts.validator);
  if (earlier) {
    throw new ApiError('already_slashed', `${facts.validator} was slashed for evidence ${earlier.id} already; a validator is slashed once`, { evidence: viewOf(earlier) });
  }
  const head = await subtreeHead(ctx.db, facts.subtree);
  if (!head) throw new ApiError('unknown_subtree', `no subtree ${facts.subtree} on this node`);
  const mode = await modeAt(ctx, sub, head.height + 1, head.root);
  if (mode.type !== 'pos' || !mode.validators.some((v) => v.key === facts.validator)) {
    throw new ApiError('invalid_evidence', `${facts.validator} is not a validator of subtree ${facts.subtree} (never was, left, or was slashed)`, {
      field: 'validator',
    });
  }
  const me = ctx.signer.publicKey;
  const args = { evidence: asJson(evidence) };
  const r = await recordEvidence(ctx.db, {
    id: facts.id,
    subtree: facts.subtree,
    validator: facts.validator,
    height: facts.height,
    body: args.evidence,
    sender: me,
    now: ctx.now(),
    makeTx: async (nonce) => {
      const tx: Tx = { v: 1, network: facts.network, subtree: facts.subtree, sender: me, nonce, call: 'slash', args };
      const id = txId(tx, ctx.hash);
      const sig = toHex(await ctx.signer.sign(id));
      return { id: toHex(id), subtree: facts.subtree, sender: me, nonce, envelope: { tx, sig } };
    },
  });
  switch (r.status) {
    case 'recorded':
      ctx.log.info('equivocation evidence accepted', { subtree: facts.subtree, validator: facts.validator, height: facts.height, tx: r.row.tx });
      ctx.kickLeader();
      return { status: 202, body: viewOf(r.row) };
    case 'known':
      throw new ApiError('evidence_known', `evidence ${facts.id} was accepted before (slash transaction ${r.row.tx})`, { evidence: viewOf(r.row) });
    case 'already_slashed':
      throw new ApiError('already_slashed', `${facts.validator} is already being slashed for evidence ${r.row.id}`, { evidence: viewOf(r.row) });
    case 'refused':
      if (r.accept.status === 'halted') throw new ApiError('subtree_halted', `subtree ${facts.subtree} is halted`);
      throw new ApiError('unknown_subtree', `no subtree ${facts.subtree} on this node`);
  }
}

function viewOf(r: { id: string; subtree: string; validator: string; height: number; tx: string; createdAt: number }): EvidenceView {
  return { id: r.id, subtree: r.subtree, validator: r.validator, height: r.height, tx: r.tx, createdAt: r.createdAt };
}

