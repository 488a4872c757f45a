import type { ReplicaTip } from '../cosigner/verify-round.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { chooseProposer } from '../core/consensus/pos.ts';
import { CONSENSUS_KEY, isCoSignedMode } from '../core/consensus/state.ts';
import { effectiveMode } from '../core/consensus/system.ts';
import { fromHex } from '../core/hex.ts';
import type { JsonValue } from '../core/jcs.ts';
import type { RoundHeader } from '../core/round.ts';
import { verifyProof } from '../core/smt/verify.ts';
import { PeerError, type PeerClient, type PeerRound, type PeerState } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';
import { linkedHeader, meetsRule, type HaltCode } from './check-round.ts';

/**
 * The light follow's check of one final round (SPEC §12, `verify: "headers"`): its links (network,
 * subtree, height, `prev`, `txCount` and `txRoot` over the ids it lists) and its finality under the
 * mode in force — no state, no re-execution. A PoA subtree's signer never changes; for multisig
 * and pos the signers of round h are in `sys/consensus` after round h − 1, which this node does
 * not hold: it reads that key from the origin with a state proof and accepts it only if the proof
 * folds to the `stateRoot` of round h − 1 it already verified.
 */

export type HeaderCheck = { ok: true; header: RoundHeader; hash: string } | { ok: false; code: HaltCode; detail: string };

/**
 * The mode in force for the round after `tip`, from the origin's proof of `sys/consensus` against
 * `tip.root` (`fetched`: that answer, asked for ahead; it is judged here all the same). A proof that does not fold to that root is a bad answer (retried, as transport
 * trouble is): the signed data is what halts a follow, and this answer is not signed.
 */
export async function lightModeAfter(ctx: NodeContext, peer: PeerClient, tip: ReplicaTip, creationMode: Mode, fetched?: Promise<PeerState>): Promise<Mode> {
  if (!isCoSignedMode(creationMode)) return creationMode;
  const s = await (fetched ?? peer.state(tip.subtree, CONSENSUS_KEY, tip.height));
  if (s.key !== CONSENSUS_KEY || s.height !== tip.height || s.root !== tip.root) {
    throw new PeerError('bad_answer', `sys/consensus at round ${tip.height}: the answer is for key ${s.key}, round ${s.height}, root ${s.root}; this node verified root ${tip.root}`);
  }
  try {
    verifyProof(s.proof, { key: CONSENSUS_KEY, root: tip.root, ...(s.exists ? { value: s.value as JsonValue } : {}) }, ctx.hash);
  } catch (e) {
    throw new PeerError('bad_answer', `sys/consensus at round ${tip.height}: the proof does not fold to the verified state root (${e instanceof Error ? e.message : String(e)})`);
  }
  return effectiveMode(creationMode, s.exists ? (s.value as JsonValue) : undefined, tip.height + 1);
}

export async function checkHeaderRound(ctx: NodeContext, tip: ReplicaTip, mode: Mode, round: PeerRound): Promise<HeaderCheck> {
  const linked = linkedHeader(ctx, tip, round, { txRoot: true });
  if (!linked.ok) return linked;
  const { header, hash } = linked;
  if (mode.type === 'pos') {
    const want = chooseProposer(mode.validators, fromHex(tip.headHash, 32), ctx.hash);
    if (header.proposer !== want) return { ok: false, code: 'bad_signature', detail: `round ${header.height}: the proposer is ${header.proposer}, the validator drawn by stake is ${want}` };
  }
  if (!(await meetsRule(ctx, mode, hash, round.signatures))) {
    return { ok: false, code: 'bad_signature', detail: `round ${header.height}: its signatures do not meet the ${mode.type} mode in force` };
  }
  return { ok: true, header, hash };
}
