import { digest } from '../core/digest.ts';
import { toHex } from '../core/hex.ts';
import type { Acceptance } from '../store/index.ts';
import type { NodeContext } from './context.ts';

/** SPEC §6 signed acceptance: what a user can show anyone to prove the node took a transaction. */
export interface AcceptObject {
  v: 1;
  network: string;
  tx: string;
  subtree: string;
  seq: number;
  time: number;
}

export interface AcceptResponse {
  id: string;
  accept: AcceptObject;
  /** The node's signature over digest("accept", accept). */
  sig: string;
}

/**
 * Ed25519 is deterministic, so the acceptance is not stored: re-signing the same fields on a
 * repeated submission or a status query yields the identical signature.
 */
export async function signedAcceptance(ctx: NodeContext, id: string, a: Acceptance): Promise<AcceptResponse> {
  const accept: AcceptObject = { v: 1, network: ctx.config.network, tx: id, subtree: a.subtree, seq: a.seq, time: a.time };
  const sig = await ctx.signer.sign(digest('accept', accept, ctx.hash));
  return { id, accept, sig: toHex(sig) };
}
