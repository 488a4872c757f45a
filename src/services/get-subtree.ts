import { ApiError } from '../api/problem.ts';
import { unsafeThresholdReason } from '../core/consensus/mode.ts';
import { getFollow, getSubtree } from '../store/index.ts';
import { modeAt } from './consensus-view.ts';
import type { NodeContext } from './context.ts';
import { subtreeHead, type SubtreeHead } from './subtree-view.ts';

/** GET /v1/subtrees/:id — the head is read fresh: height, root and status move with every round. */
export async function getSubtreeVerb(ctx: NodeContext, id: string): Promise<SubtreeHead> {
  const row = await getSubtree(ctx.db, id);
  if (!row) throw unknownSubtree(id);
  const head = subtreeHead(row);
  if (row.origin) {
    // SPEC §12: a followed subtree's status is the follow's own.
    const f = await getFollow(ctx.db, id);
    if (f) head.status = f.status;
  }
  // SPEC §5: a multisig subtree whose signers in force break 2t − n ≥ 1 (≥ 2 with the node's key
  // among them) keeps working, but says so.
  const facts = row.mode && (row.mode as { type?: unknown }).type === 'multisig' ? await ctx.subtrees.get(id) : undefined;
  if (facts?.mode.type === 'multisig' && facts.verify === 'full') {
    const mode = await modeAt(ctx, facts, row.height + 1, row.root);
    if (mode.type === 'multisig' && unsafeThresholdReason(mode, ctx.signer.publicKey) !== null) return { ...head, unsafeThreshold: true };
  }
  return head;
}

export function unknownSubtree(id: string): ApiError {
  return new ApiError('unknown_subtree', `no subtree ${id} on this node`);
}

/** A read a light (`headers`) follow cannot answer: it keeps rounds, not state or log (SPEC §12). */
export function headersOnly(id: string, origin: string | null): ApiError {
  return new ApiError('headers_only', `this node follows subtree ${id} by its headers only (no state, no log); ask its origin${origin ? ` ${origin}` : ''}`, {
    ...(origin ? { origin } : {}),
  });
}
