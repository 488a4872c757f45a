import { modeAfter, verifyRound, type FetchedTx, type ReplicaTip } from '../cosigner/verify-round.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { eligibleKeys, missingRequirements, roundSigners } from '../core/consensus/signing-rules.ts';
import { fromHex, toHex } from '../core/hex.ts';
import type { JsonValue } from '../core/jcs.ts';
import type { Program } from '../core/programs/types.ts';
import type { RoundStep } from '../core/replay.ts';
import { parseRoundHeader, roundHash, txRoot, type RoundHeader } from '../core/round.ts';
import type { PeerLogPage, PeerRound } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';

/**
 * The follower's check of one final round from an origin (SPEC §12, full follow): its links, its
 * signatures under the mode in force, and its three roots re-executed from the origin's log. The
 * co-signer's verifier (`verifyRound`) does the transactions and the execution, so co-signers and
 * followers share one set of checks. What this adds is the order that gives a refusal its stable
 * code: links (`bad_link`), then signatures (`bad_signature`, before any execution, so an altered
 * header is caught as unsigned), then the log entries against the round's ids and their own
 * signatures (`bad_tx`), then the roots (`root_mismatch`).
 */

export type HaltCode = 'bad_request' | 'bad_link' | 'bad_signature' | 'bad_tx' | 'root_mismatch' | 'log_rewritten' | 'fork';

export type RoundCheck = { ok: true; header: RoundHeader; hash: string; step: RoundStep } | { ok: false; code: HaltCode; detail: string };

export interface FollowFacts {
  creationMode: Mode;
  program: Program;
  config: unknown;
  /** Round 0's proposer: the only sender of node calls. */
  host: string | undefined;
}

export type PeerLogEntry = PeerLogPage['items'][number];

export async function checkFollowedRound(ctx: NodeContext, tip: ReplicaTip, facts: FollowFacts, round: PeerRound, log: readonly PeerLogEntry[]): Promise<RoundCheck> {
  const linked = linkedHeader(ctx, tip, round, { txRoot: false });
  if (!linked.ok) return linked;
  const { header, hash } = linked;

  const mode = await modeAfter(tip, facts.creationMode, ctx.tree, ctx.store, ctx.hash);
  if (!(await meetsRule(ctx, mode, hash, round.signatures))) {
    return { ok: false, code: 'bad_signature', detail: `round ${header.height}: its signatures do not meet the ${mode.type} mode in force` };
  }

  if (log.length !== round.txs.length) return { ok: false, code: 'bad_tx', detail: `round ${header.height}: the origin's log has ${log.length} of its ${round.txs.length} transactions` };
  for (const [i, e] of log.entries()) {
    if (e.seq !== tip.nextSeq + i) return { ok: false, code: 'bad_tx', detail: `round ${header.height}: log entry ${i} has seq ${e.seq}, expected ${tip.nextSeq + i}` };
    if (e.id !== round.txs[i]) return { ok: false, code: 'bad_tx', detail: `round ${header.height}: the log's transaction at seq ${e.seq} is ${e.id}, the round lists ${round.txs[i]}` };
  }
  const txs: FetchedTx[] = log.map((e) => ({ id: e.id, seq: e.seq, envelope: e.envelope }));
  const v = await verifyRound({
    tip,
    creationMode: facts.creationMode,
    program: facts.program,
    config: facts.config,
    tree: ctx.tree,
    values: ctx.store,
    header: round.header,
    hash,
    txs,
    hash256: ctx.hash,
    verifier: ctx.verifier,
    parseKey: ctx.parseKey,
    ...(facts.host !== undefined ? { host: facts.host } : {}),
  });
  if (!v.ok) {
    const fields = v.mismatches.map((m) => `${m.field}: expected ${String(m.expected)}, got ${String(m.got)}`).join('; ');
    const code: HaltCode = v.reason.startsWith('transaction')
      ? 'bad_tx'
      : v.mismatches.some((m) => m.field === 'header.proposer')
        ? 'bad_signature'
        : v.mismatches.some((m) => /Root$/.test(m.field)) || v.reason.includes('cannot be executed')
          ? 'root_mismatch'
          : 'bad_link';
    return { ok: false, code, detail: `round ${header.height}: ${v.reason}${fields ? ` (${fields})` : ''}` };
  }
  return { ok: true, header: v.header, hash, step: v.step };
}

/**
 * A round's header parsed, its hash recomputed (signatures must be over THIS header, whatever
 * hash the origin reports) and its links to the verified `tip` checked: network, subtree, height,
 * `prev`, `txCount`, and `txRoot` over the ids it lists when asked (a full follow's re-execution
 * checks that root itself).
 */
export function linkedHeader(
  ctx: NodeContext,
  tip: ReplicaTip,
  round: PeerRound,
  opts: { txRoot: boolean },
): { ok: true; header: RoundHeader; hash: string } | { ok: false; code: HaltCode; detail: string } {
  let header: RoundHeader;
  try {
    header = parseRoundHeader(round.header);
  } catch (e) {
    return { ok: false, code: 'bad_link', detail: `malformed header: ${e instanceof Error ? e.message : String(e)}` };
  }
  const hash = toHex(roundHash(header, ctx.hash));
  const links: string[] = [];
  const expect = (field: string, want: unknown, got: unknown) => {
    if (want !== got) links.push(`${field}: expected ${String(want)}, got ${String(got)}`);
  };
  expect('header.network', tip.network, header.network);
  expect('header.subtree', tip.subtree, header.subtree);
  expect('header.height', tip.height + 1, header.height);
  expect('header.prev', tip.headHash, header.prev);
  expect('header.txCount', round.txs.length, header.txCount);
  if (opts.txRoot) expect('header.txRoot', toHex(txRoot(round.txs, ctx.hash)), header.txRoot);
  if (links.length > 0) return { ok: false, code: 'bad_link', detail: `round ${header.height} does not extend the verified chain (${links.join('; ')})` };
  return { ok: true, header, hash };
}

/** Whether valid signatures over `hash` by signers of `mode` meet its rule. */
export async function meetsRule(ctx: NodeContext, mode: Mode, hash: string, sigs: readonly { signer: string; sig: string }[]): Promise<boolean> {
  const req = roundSigners(mode);
  const eligible = eligibleKeys([req]);
  const d = fromHex(hash, 32);
  const candidates = sigs.filter((s, i) => eligible.has(s.signer) && /^[0-9a-f]{128}$/.test(s.sig) && sigs.findIndex((x) => x.signer === s.signer) === i);
  const ok = await Promise.all(candidates.map((s) => ctx.verifier.verify(ctx.parseKey(s.signer), d, fromHex(s.sig, 64)).catch(() => false)));
  return missingRequirements([req], new Set(candidates.filter((_, i) => ok[i]).map((s) => s.signer))).length === 0;
}

/** The evidence kept with a halt: the offending signed data as the origin served it. */
export function roundEvidence(round: PeerRound, log: readonly PeerLogEntry[]): JsonValue {
  return { round, log } as unknown as JsonValue;
}
