import { eligibleKeys, missingRequirements, roundSigners } from '../core/consensus/signing-rules.ts';
import { fromHex } from '../core/hex.ts';
import { parseKeyField } from '../core/tx.ts';
import { isHex32 } from '../core/hex.ts';
import type { ExpiryCertificate } from '../core/consensus/expiry.ts';
import { parseRoundHeader } from '../core/round.ts';
import { exactObject } from '../core/strict.ts';
import type { Receipt } from '../core/receipt.ts';
import { ApiError } from '../api/problem.ts';
import { addProposalSignature, getOpenProposal, proposalsAt, listProposals as listStoredProposals, StoreError, subtreeHead, type Proposal } from '../store/index.ts';
import { modeAt } from './consensus-view.ts';
import type { NodeContext } from './context.ts';
import type { SubtreeFacts } from './subtree-cache.ts';
import { roundEvents } from './round-events.ts';
import { certificatesOf } from './expire-proposals.ts';

export interface ProposalView {
  hash: string;
  height: number;
  header: unknown;
  txs: string[];
  signatures: { signer: string; sig: string }[];
  status: Proposal['status'];
  createdAt: number;
  /** Keys whose signatures count toward finality under the subtree's mode. */
  signers: string[];
  /** Expired proposals: the expiry certificate that expired it (SPEC §5), `{expire, sigs}`. */
  certificate?: ExpiryCertificate;
}

const SIG_RE = /^[0-9a-f]{128}$/;

/** A malformed field is bad input (400 validation_failed), not a signature that failed to verify. */
export function parseSigField(v: unknown, field: string): string {
  if (typeof v !== 'string' || !SIG_RE.test(v)) throw new ApiError('validation_failed', `${field} must be 64 bytes of lowercase hex`, { field });
  return v;
}

export function parseHex32Field(v: unknown, field: string): string {
  if (!isHex32(v)) throw new ApiError('validation_failed', `${field} must be 32 bytes of lowercase hex`, { field });
  return v;
}

/**
 * POST /v1/subtrees/:id/rounds/:height/signatures `{ signer, sig }`: a signature over the hash of
 * the round proposed at `height`. It must come from a key the mode names and verify; a repeat is
 * idempotent (200). When the collected signatures meet the mode's rule the round becomes final in
 * the same database transaction (201); otherwise the signature is recorded (202).
 */
export async function addRoundSignature(
  ctx: NodeContext,
  subtreeId: string,
  height: number,
  body: unknown,
): Promise<{ status: 200 | 201 | 202; body: ProposalView }> {
  const b = exactObject(body, ['signer', 'sig'], 'invalid_request', 'body');
  const signer = parseKeyField(b.signer, 'signer');
  const sig = parseSigField(b.sig, 'sig');
  const facts = await ctx.subtrees.get(subtreeId);
  if (!facts) throw new ApiError('unknown_subtree', `no subtree ${subtreeId} on this node`);
  // Signers of the next round: the creation mode for PoA, the sys/consensus state for multisig and
  // pos (a removed signer or slashed validator does not count any more).
  const mode = await nextRoundMode(ctx, facts, subtreeId);
  const eligible = eligibleKeys([roundSigners(mode)]);
  if (!eligible.has(signer)) {
    throw new ApiError('not_a_signer', `${signer} is not a signer of this subtree's rounds`, { signers: [...eligible] });
  }
  const open = await getOpenProposal(ctx.db, subtreeId);
  if (!open || open.height !== height) {
    // A retry after a lost 201: the same signature on the round it already finalized is a 200.
    const final = (await proposalsAt(ctx.db, subtreeId, height)).find((p) => p.status === 'final');
    if (final?.signatures.some((s) => s.signer === signer && s.sig === sig)) {
      return { status: 200, body: proposalView(final, eligible) };
    }
    throw new ApiError('not_found', `subtree ${subtreeId} has no open proposal at height ${height}`, {
      ...(open ? { openHeight: open.height } : {}),
    });
  }
  const ok = await ctx.verifier.verify(ctx.parseKey(signer), fromHex(open.hash, 32), fromHex(sig, 64));
  if (!ok) throw new ApiError('bad_signature', `sig is not ${signer}'s signature over round ${open.hash}`);

  const header = parseRoundHeader(open.header);
  try {
    const r = await addProposalSignature(ctx.db, {
      hash: open.hash,
      signature: { signer, sig },
      // Every stored signature was verified when it came in (or is the node's own), so the rule is
      // counted over eligible signers without verifying them all again.
      isFinal: (sigs) => missingRequirements([roundSigners(mode)], new Set(sigs.map((x) => x.signer).filter((k) => eligible.has(k)))).length === 0,
      events: roundEvents(header, open.hash, open.receipts as unknown as Receipt[]),
      now: ctx.now(),
    });
    if (r.status === 'finalized') ctx.kickLeader(); // the next round can be proposed now
    return { status: r.status === 'finalized' ? 201 : r.status === 'added' ? 202 : 200, body: proposalView(r.proposal, eligible) };
  } catch (err) {
    if (err instanceof StoreError && err.code === 'proposal_closed') {
      throw new ApiError('conflict', `the proposal at height ${height} is no longer open`);
    }
    if (err instanceof StoreError && err.code === 'voted_expiry') {
      throw new ApiError('conflict', `${signer} voted to expire proposal ${open.hash}; a signer never signs a proposal it voted to expire`);
    }
    throw err;
  }
}

/** GET /v1/subtrees/:id/proposals — open first by default (`?status=`), paged by height. */
export async function listProposals(
  ctx: NodeContext,
  subtreeId: string,
  page: { status?: Proposal['status']; cursor?: number; limit: number },
): Promise<{ items: ProposalView[]; next?: number }> {
  const facts = await ctx.subtrees.get(subtreeId);
  if (!facts) throw new ApiError('unknown_subtree', `no subtree ${subtreeId} on this node`);
  const eligible = eligibleKeys([roundSigners(await nextRoundMode(ctx, facts, subtreeId))]);
  const p = await listStoredProposals(ctx.db, subtreeId, page);
  const certs = await certificatesOf(ctx, ctx.config.network, p.items);
  return { items: p.items.map((x) => proposalView(x, eligible, certs.get(x.hash))), ...(p.next !== null ? { next: p.next } : {}) };
}

/** The mode in force for the round after the head (the one an open proposal is at). */
async function nextRoundMode(ctx: NodeContext, facts: SubtreeFacts, subtreeId: string) {
  const head = await subtreeHead(ctx.db, subtreeId);
  if (!head) throw new ApiError('unknown_subtree', `no subtree ${subtreeId} on this node`);
  return modeAt(ctx, facts, head.height + 1, head.root);
}

function proposalView(p: Proposal, eligible: ReadonlySet<string>, certificate?: ExpiryCertificate): ProposalView {
  return {
    ...(certificate ? { certificate } : {}),
    hash: p.hash,
    height: p.height,
    header: p.header,
    txs: p.txIds,
    signatures: p.signatures,
    status: p.status,
    createdAt: p.createdAt,
    signers: [...eligible],
  };
}
