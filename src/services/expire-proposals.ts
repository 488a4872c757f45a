import { ApiError } from '../api/problem.ts';
import { certificateFlaw, expireDigest, expireObject, type ExpiryCertificate } from '../core/consensus/expiry.ts';
import type { MultisigMode } from '../core/consensus/mode.ts';
import { fromHex } from '../core/hex.ts';
import { exactObject } from '../core/strict.ts';
import { parseKeyField } from '../core/tx.ts';
import { expiryVotesFor, recordExpiryVote, type ExpiryVote } from '../store/halts.ts';
import { getSubtree, proposalsAt, type Proposal } from '../store/index.ts';
import { modeAt } from './consensus-view.ts';
import type { NodeContext } from './context.ts';
import { parseHex32Field, parseSigField } from './round-signatures.ts';

/** SPEC §5: "after 3 consecutive expiries the subtree is halted". */
export const HALT_AFTER_EXPIRIES = 3;

export interface ExpiryView {
  subtree: string;
  height: number;
  round: string;
  /** Every verified vote recorded for that round (a certificate once `threshold` distinct signers voted). */
  votes: { signer: string; sig: string }[];
  threshold: number;
  /** The proposal's status after this vote. */
  status: Proposal['status'];
}

/**
 * POST /v1/subtrees/:id/rounds/:height/expiries `{ signer, round, sig }` (SPEC §5): a signer's vote
 * to expire the proposal `round` at `height`, a signature over `digest("expire", {v: 1, network,
 * subtree, height, round})`. Checked in full before anything is written: the signer must be one
 * in force for that height (403 not_a_signer), the signature must verify (401 bad_signature), the
 * proposal must exist (404 not_found), and a signer that signed the proposal cannot vote to expire
 * it (409 conflict). 202 recorded, 200 known, 201 when it completes a certificate of `threshold`
 * distinct current signers — which expires the proposal (if still open) in the same transaction:
 * its transactions stay pending, `proposal.expired` fires, and the 3rd expiry in a row halts.
 * This is the ONLY way a proposal expires: the node's own clock expires nothing.
 */
export async function recordExpiry(ctx: NodeContext, subtreeId: string, height: number, body: unknown): Promise<{ status: 200 | 201 | 202; body: ExpiryView }> {
  const b = exactObject(body, ['signer', 'round', 'sig'], 'invalid_request', 'body');
  const signer = parseKeyField(b.signer, 'signer');
  const round = parseHex32Field(b.round, 'round');
  const sig = parseSigField(b.sig, 'sig');
  const facts = await ctx.subtrees.get(subtreeId);
  const row = await getSubtree(ctx.db, subtreeId);
  if (!facts || !row) throw new ApiError('unknown_subtree', `no subtree ${subtreeId} on this node`);
  if (facts.mode.type !== 'multisig') throw new ApiError('conflict', `subtree ${subtreeId} is ${facts.mode.type}; only multisig proposals expire`);
  // Votes count for the open height only (the signers in force there are those of the head's state);
  // an older height's proposals are final or expired already.
  if (height !== row.height + 1) {
    throw new ApiError('not_found', `subtree ${subtreeId} takes expiry votes for height ${row.height + 1} only`, { openHeight: row.height + 1 });
  }
  const mode = (await modeAt(ctx, facts, height, row.root)) as MultisigMode;
  if (!mode.signers.includes(signer)) throw new ApiError('not_a_signer', `${signer} is not a signer of this subtree at height ${height}`, { signers: mode.signers });
  const expire = expireObject({ network: ctx.config.network, subtree: subtreeId, height, round });
  const ok = await ctx.verifier.verify(ctx.parseKey(signer), expireDigest(expire, ctx.hash), fromHex(sig, 64));
  if (!ok) throw new ApiError('bad_signature', `sig is not ${signer}'s signature over digest("expire", ${JSON.stringify(expire)})`, { expire });
  const r = await recordExpiryVote(ctx.db, {
    vote: { subtree: subtreeId, height, round, signer, sig },
    isCertificate: (signers) => mode.signers.filter((k) => signers.includes(k)).length >= mode.threshold,
    haltAfter: HALT_AFTER_EXPIRIES,
    now: ctx.now(),
  });
  switch (r.status) {
    case 'unknown_proposal':
      throw new ApiError('not_found', `subtree ${subtreeId} has no proposal ${round} at height ${height}`);
    case 'signed_it':
      throw new ApiError('conflict', `${signer} signed proposal ${round}; a signer never votes to expire a proposal it signed`);
    default:
      break;
  }
  if (r.status === 'certified' && r.expired) {
    ctx.log.info('proposal expired by certificate', { subtree: subtreeId, height, hash: round, consecutive: r.expired.consecutive });
    if (r.expired.halt !== undefined) ctx.log.info('subtree halted after consecutive expired proposals', { subtree: subtreeId, halt: r.expired.halt });
    ctx.kickLeader(); // the pending transactions can be proposed again
  }
  const status = (await proposalsAt(ctx.db, subtreeId, height)).find((p) => p.hash === round)?.status ?? 'open';
  return {
    status: r.status === 'certified' ? 201 : r.status === 'known' ? 200 : 202,
    body: { subtree: subtreeId, height, round, votes: r.votes.map((v) => ({ signer: v.signer, sig: v.sig })), threshold: mode.threshold, status },
  };
}

/**
 * The expiry certificates of expired proposals, keyed by round hash (what GET …/proposals serves):
 * every recorded vote for the round (each verified when it came in).
 */
export async function certificatesOf(ctx: NodeContext, network: string, proposals: readonly Proposal[]): Promise<Map<string, ExpiryCertificate>> {
  const expired = proposals.filter((p) => p.status === 'expired');
  const out = new Map<string, ExpiryCertificate>();
  if (expired.length === 0) return out;
  const votes = await expiryVotesFor(ctx.db, expired.map((p) => p.hash));
  const by = new Map<string, ExpiryVote[]>();
  for (const v of votes) by.set(v.round, [...(by.get(v.round) ?? []), v]);
  for (const p of expired) {
    out.set(p.hash, {
      expire: expireObject({ network, subtree: p.subtree, height: p.height, round: p.hash }),
      sigs: (by.get(p.hash) ?? []).map((v) => ({ signer: v.signer, sig: v.sig })),
    });
  }
  return out;
}

/**
 * The node's own key obeys the signer's rule (SPEC §5): before it signs a header at `height` it
 * checks that every other header it signed there holds a valid expiry certificate, from the votes
 * it stored. False means: do not sign.
 */
export async function mayNodeSignAt(ctx: NodeContext, subtreeId: string, height: number, mode: MultisigMode): Promise<boolean> {
  const me = ctx.signer.publicKey;
  const mine = (await proposalsAt(ctx.db, subtreeId, height)).filter((p) => p.signatures.some((s) => s.signer === me));
  if (mine.length === 0) return true;
  const certs = await certificatesOf(ctx, ctx.config.network, mine);
  return mine.every((p) => {
    const c = certs.get(p.hash);
    return c !== undefined && certificateFlaw(c, { network: ctx.config.network, subtree: subtreeId, height, round: p.hash }, mode, ctx.hash) === null;
  });
}
