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
  const sig = await ctx.signer.sign(acceptDigest(accept, ctx.hash));
  return { id, accept, sig: toHex(sig) };
}

const ACCEPT_PREFIX = 'DSTP/accept/v1\n';
const HEX64 = /^[0-9a-f]{64}$/;
/** Surrogates: JSON.stringify escapes a lone one where `jcs` refuses it; leave those to `jcs`. */
const SURROGATE = /[\uD800-\uDFFF]/;
const encoder = new TextEncoder();

/**
 * `digest("accept", accept)` on the hot path (every 202), writing the canonical JSON directly:
 * the object has six fixed members, so RFC 8785 order is network, seq, subtree, time, tx, v;
 * strings serialize as JSON.stringify does (RFC 8785 §3.2.2.2) and safe non-negative integers as
 * their decimal digits. Anything else goes through the general `digest`.
 */
export function acceptDigest(accept: AcceptObject, hash: NodeContext['hash']): Uint8Array {
  const { network, seq, subtree, time, tx } = accept;
  const plain =
    Number.isSafeInteger(seq) && seq >= 0 && Number.isSafeInteger(time) && time >= 0 && HEX64.test(subtree) && HEX64.test(tx) && !SURROGATE.test(network);
  if (!plain) return digest('accept', accept, hash);
  const text = `${ACCEPT_PREFIX}{"network":${JSON.stringify(network)},"seq":${seq},"subtree":"${subtree}","time":${time},"tx":"${tx}","v":1}`;
  return hash(encoder.encode(text));
}
