import { ApiError } from '../api/problem.ts';
import { failedReceipt, okReceipt, type Receipt } from '../core/receipt.ts';
import type { TxEnvelope } from '../core/tx.ts';
import { forwardTransactionStatus } from '../follow/forward.ts';
import { getFollow, getTx, liveFollows } from '../store/index.ts';
import { signedAcceptance, type AcceptObject } from './acceptance.ts';
import type { NodeContext } from './context.ts';

/** SPEC §11 transaction status, with the signed acceptance the node gave when it took it. */
export interface TxView {
  id: string;
  status: 'pending' | 'executed' | 'failed';
  subtree: string;
  /** Position in the subtree's log (= execution order). */
  seq: number;
  sender: string;
  nonce: number;
  /** SPEC §8 receipt once a round executed it. */
  receipt?: Receipt;
  /** The round that executed it. */
  height?: number;
  accept: AcceptObject;
  /** Node signature over digest("accept", accept); identical to the one sent on acceptance. */
  sig: string;
  /** The transaction and its sender's signature as received. */
  envelope: TxEnvelope;
}

/** GET /v1/transactions/:id */
export async function getTransaction(ctx: NodeContext, id: string): Promise<TxView> {
  const rec = await getTx(ctx.db, id);
  // A followed subtree's transactions were accepted by its origin (SPEC §12): its answer, checked.
  const followed = rec ? ((await ctx.subtrees.get(rec.subtree))?.origin ?? null) : null;
  if (!rec || followed) {
    const candidates = rec ? [await getFollow(ctx.db, rec.subtree)].filter((f) => f !== undefined) : await liveFollows(ctx.db);
    const theirs = candidates.length > 0 ? await forwardTransactionStatus(ctx, id, candidates) : null;
    if (theirs) return theirs as TxView;
    if (followed) throw new ApiError('origin_bad_answer', `the origin of subtree ${rec!.subtree} does not know transaction ${id}, which it executed`);
  }
  if (!rec) throw new ApiError('not_found', `no transaction ${id} on this node`);
  const { accept, sig } = await signedAcceptance(ctx, rec.id, { subtree: rec.subtree, seq: rec.seq, time: rec.acceptedAt });
  const view: TxView = {
    id: rec.id,
    status: rec.status,
    subtree: rec.subtree,
    seq: rec.seq,
    sender: rec.sender,
    nonce: rec.nonce,
    accept,
    sig,
    envelope: rec.envelope,
  };
  if (rec.status !== 'pending' && rec.height !== null && rec.idx !== null) {
    view.height = rec.height;
    const gas = rec.gas ?? undefined;
    view.receipt = rec.status === 'failed' ? failedReceipt(rec.id, rec.idx, rec.code ?? 'failed', gas) : okReceipt(rec.id, rec.idx, gas);
  }
  return view;
}
