import { ApiError } from '../api/problem.ts';
import { isMultisigEvidence, parseEvidence, parseMultisigEvidence, verifyEvidence, verifyMultisigEvidence } from '../core/consensus/evidence.ts';
import { certificateFlaw, expireObject } from '../core/consensus/expiry.ts';
import type { MultisigMode } from '../core/consensus/mode.ts';
import { expiryVotesFor } from '../store/halts.ts';
import { getRound } from '../store/index.ts';
import { asJson } from '../core/jcs.ts';
import { toHex } from '../core/hex.ts';
import { txId, type Tx } from '../core/tx.ts';
import { evidenceAgainst, getEvidence, recordEvidence, recordMultisigEvidence } from '../store/evidence.ts';
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
export async function submitEvidence(ctx: NodeContext, body: unknown): Promise<{ status: 200 | 202; body: EvidenceView | MultisigEvidenceView }> {
  if (isMultisigEvidence(body)) return submitMultisigEvidence(ctx, body);
  const evidence = parseEvidence(body);
  const facts = verifyEvidence(evidence, ctx.hash);
  if (facts.network !== ctx.config.network) {
    throw new ApiError('network_mismatch', `this node serves network "${ctx.config.network}", not "${facts.network}"`, { expected: ctx.config.network });
  }
  const sub = await ctx.subtrees.get(facts.subtree);
  if (!sub) throw new ApiError('unknown_subtree', `no subtree ${facts.subtree} on this node`);
  if (sub.origin) throw followedSubtree(facts.subtree, sub.origin);
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


export interface MultisigEvidenceView {
  /** `digest("evidence", {v: 1, network, subtree, height, signer, rounds})` (docs/consensus.md). */
  id: string;
  subtree: string;
  signer: string;
  height: number;
  /** The halt it caused; only a resume naming the evidence lifts it. */
  halt: number;
  createdAt: number;
}

/**
 * POST /v1/evidence (SPEC §5, multisig): one signer signed two different headers at one height, or
 * a header and an expiry vote for it. Verified in full before anything is written (400
 * invalid_evidence naming the failing link): the signatures, the conflict, that the key is a
 * signer in force at that height, and — for two headers — that no valid expiry certificate the
 * node holds for one of them refutes it (a signer may sign a second header over a certificate).
 * Accepted evidence halts the subtree naming the signer, in one transaction (202); the same
 * evidence again is 200 and changes nothing. Only a resume naming the evidence lifts that halt.
 */
async function submitMultisigEvidence(ctx: NodeContext, body: unknown): Promise<{ status: 200 | 202; body: MultisigEvidenceView }> {
  const evidence = parseMultisigEvidence(body);
  const facts = verifyMultisigEvidence(evidence, ctx.hash);
  if (facts.network !== ctx.config.network) {
    throw new ApiError('network_mismatch', `this node serves network "${ctx.config.network}", not "${facts.network}"`, { expected: ctx.config.network });
  }
  const sub = await ctx.subtrees.get(facts.subtree);
  if (!sub) throw new ApiError('unknown_subtree', `no subtree ${facts.subtree} on this node`);
  if (sub.origin) throw followedSubtree(facts.subtree, sub.origin);
  if (sub.mode.type !== 'multisig') throw new ApiError('invalid_evidence', `subtree ${facts.subtree} is ${sub.mode.type}; evidence with "signer" applies to multisig subtrees`);
  const head = await subtreeHead(ctx.db, facts.subtree);
  if (!head) throw new ApiError('unknown_subtree', `no subtree ${facts.subtree} on this node`);
  if (facts.height < 1 || facts.height > head.height + 1) {
    throw new ApiError('invalid_evidence', `height ${facts.height} is not a height of subtree ${facts.subtree} (1..${head.height + 1})`, { field: 'evidence.a.header.height' });
  }
  const before = await getRound(ctx.db, facts.subtree, facts.height - 1);
  if (!before) throw new ApiError('invalid_evidence', `subtree ${facts.subtree} has no round ${facts.height - 1}`);
  const mode = (await modeAt(ctx, sub, facts.height, before.stateRoot)) as MultisigMode;
  if (!mode.signers.includes(facts.signer)) {
    throw new ApiError('invalid_evidence', `${facts.signer} is not a signer of subtree ${facts.subtree} at height ${facts.height}`, { field: 'evidence.signer' });
  }
  if (facts.kind === 'headers') {
    const votes = await expiryVotesFor(ctx.db, facts.rounds);
    for (const round of facts.rounds) {
      const cert = { expire: expireObject({ network: facts.network, subtree: facts.subtree, height: facts.height, round }), sigs: votes.filter((v) => v.round === round).map((v) => ({ signer: v.signer, sig: v.sig })) };
      if (certificateFlaw(cert, cert.expire, mode, ctx.hash) === null) {
        throw new ApiError('invalid_evidence', `refuted: header ${round} holds a valid expiry certificate, so signing another header at height ${facts.height} was allowed`, { certificate: cert });
      }
    }
  }
  const r = await recordMultisigEvidence(ctx.db, { id: facts.id, subtree: facts.subtree, signer: facts.signer, height: facts.height, body: asJson(evidence), now: ctx.now() });
  if (r.status === 'recorded') ctx.log.info('multisig equivocation evidence accepted; subtree halted', { subtree: facts.subtree, signer: facts.signer, height: facts.height, halt: r.row.halt });
  const { id, subtree, signer, height, halt, createdAt } = r.row;
  return { status: r.status === 'recorded' ? 202 : 200, body: { id, subtree, signer, height, halt, createdAt } };
}

/**
 * Evidence about a followed subtree belongs at its origin: the slash transaction or halt it
 * causes is the origin's to write, and a replica takes its log and status only from there.
 */
function followedSubtree(subtree: string, origin: string): ApiError {
  return new ApiError('followed_subtree', `this node follows subtree ${subtree} from ${origin}; post the evidence there`, { origin });
}
