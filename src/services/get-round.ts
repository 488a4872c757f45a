import { ApiError } from '../api/problem.ts';
import type { JsonValue } from '../core/jcs.ts';
import { getRound, subtreeHead, type Round, type RoundSignature } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { unknownSubtree } from './get-subtree.ts';

/** SPEC §11 round: the header, the signatures over its hash and the executed transaction ids. */
export interface RoundView {
  subtree: string;
  height: number;
  /** `digest("round", header)`: what `signatures` sign. */
  hash: string;
  header: JsonValue;
  signatures: RoundSignature[];
  /** Transaction ids in execution order (their RFC 6962 root is `header.txRoot`). */
  txs: string[];
  /** `final`, or `proposed` while a multisig/pos round collects signatures. */
  status: 'final' | 'proposed';
  createdAt: number;
}

export function roundView(r: Round): RoundView {
  return {
    subtree: r.subtree,
    height: r.height,
    hash: r.hash,
    header: r.header,
    signatures: r.signatures,
    txs: r.txIds,
    status: r.status,
    createdAt: r.createdAt,
  };
}

/** GET /v1/subtrees/:id/rounds/:height */
export async function getRoundVerb(ctx: NodeContext, subtree: string, height: number): Promise<RoundView> {
  const row = await getRound(ctx.db, subtree, height);
  if (row) return roundView(row);
  throw await missingRound(ctx, subtree, height);
}

/** Tells an unknown subtree (404 unknown_subtree) from a height it has not reached (404 not_found). */
export async function missingRound(ctx: NodeContext, subtree: string, height: number): Promise<ApiError> {
  const head = await subtreeHead(ctx.db, subtree);
  if (!head) return unknownSubtree(subtree);
  return new ApiError('not_found', `subtree ${subtree} has no round ${height} yet (latest final round: ${head.height})`, {
    latest: head.height,
  });
}
