import type { Mode } from '../core/consensus/mode.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { asJson, type JsonValue } from '../core/jcs.ts';
import { parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import type { PeerRound } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';
import { getRound, type FollowHalt } from '../store/index.ts';
import { meetsRule } from './check-round.ts';

/**
 * Equivocation seen by a follower (SPEC §12): a final header for a height this node verified that
 * differs from the one it verified, and is itself final under the mode in force at that height.
 * Whoever served it — the origin now (say, after a restart on another database), or another node
 * that follows the same subtree — the follow halts with `fork` and keeps both signed rounds, plus,
 * for every key that signed both, the body `POST /v1/evidence` takes (SPEC §5: `{validator, a, b}`
 * for pos, `{signer, a, b}` otherwise), so the evidence can be posted to any node.
 */

export interface ServedRound {
  round: PeerRound;
  /** Who served it: `origin`, or a witness's base URL. */
  source: string;
}

export type ForkVerdict = { kind: 'same' } | { kind: 'unsigned'; height: number } | { kind: 'fork'; halt: FollowHalt };

/**
 * Compares a served round with the verified one at its height. `modeAt(h)` is the mode in force
 * for round h (from the state after h − 1). A header that is not for this subtree and height, or
 * equal to the verified one, is `same` (nothing to judge); one whose signatures do not meet the
 * mode is `unsigned`.
 */
export async function compareServedRound(ctx: NodeContext, subtree: string, served: ServedRound, modeAt: (height: number) => Promise<Mode>): Promise<ForkVerdict> {
  let header: RoundHeader;
  try {
    header = parseRoundHeader(served.round.header);
  } catch {
    return { kind: 'same' };
  }
  if (header.subtree !== subtree || header.height < 1) return { kind: 'same' };
  const mine = await getRound(ctx.db, subtree, header.height);
  if (!mine) return { kind: 'same' };
  const hash = toHex(roundHash(header, ctx.hash));
  if (hash === mine.hash) return { kind: 'same' };
  const mode = await modeAt(header.height);
  if (!(await meetsRule(ctx, mode, hash, served.round.signatures))) return { kind: 'unsigned', height: header.height };
  const verified = { header: mine.header, hash: mine.hash, signatures: mine.signatures };
  const theirs = { header: asJson(header), hash, signatures: served.round.signatures, txs: served.round.txs };
  return {
    kind: 'fork',
    halt: {
      code: 'fork',
      detail:
        `${served.source === 'origin' ? 'the origin' : `node ${served.source}`} serves a different final round ${header.height} (${hash}) ` +
        `than the one verified here (${mine.hash})`,
      evidence: {
        height: header.height,
        source: served.source,
        verified,
        served: theirs,
        evidence: await doubleSigners(ctx, mode, parseRoundHeader(mine.header), mine.signatures, header, served.round.signatures),
      } as unknown as JsonValue,
    },
  };
}

/** `POST /v1/evidence` bodies, one per key with a valid signature on both headers. */
async function doubleSigners(
  ctx: NodeContext,
  mode: Mode,
  a: RoundHeader,
  aSigs: readonly { signer: string; sig: string }[],
  b: RoundHeader,
  bSigs: readonly { signer: string; sig: string }[],
): Promise<JsonValue[]> {
  const ha = roundHash(a, ctx.hash);
  const hb = roundHash(b, ctx.hash);
  const valid = async (d: Uint8Array, s: { signer: string; sig: string }) => {
    if (!/^[0-9a-f]{128}$/.test(s.sig)) return false;
    try {
      return await ctx.verifier.verify(ctx.parseKey(s.signer), d, fromHex(s.sig, 64));
    } catch {
      return false;
    }
  };
  const out: JsonValue[] = [];
  for (const sa of aSigs) {
    const sb = bSigs.find((x) => x.signer === sa.signer);
    if (!sb || !(await valid(ha, sa)) || !(await valid(hb, sb))) continue;
    const who = mode.type === 'pos' ? { validator: sa.signer } : { signer: sa.signer };
    out.push({ ...who, a: { header: asJson(a), sig: sa.sig }, b: { header: asJson(b), sig: sb.sig } } as unknown as JsonValue);
  }
  return out;
}
