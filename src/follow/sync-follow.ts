import type { ReplicaTip } from '../cosigner/verify-round.ts';
import { asJson, jcs, type JsonValue } from '../core/jcs.ts';
import { toHex } from '../core/hex.ts';
import { parseRoundHeader, roundHash } from '../core/round.ts';
import type { TxEnvelope } from '../core/tx.ts';
import type { PeerClient } from '../peers/peer-client.ts';
import { hostKey } from '../services/child-roots.ts';
import type { NodeContext } from '../services/context.ts';
import { roundEvents } from '../services/round-events.ts';
import { logRange } from '../store/log-range.ts';
import { applyFollowedRound, getRound, getSubtree, updateFollow, type Follow, type FollowHalt, type LeaseClaim } from '../store/index.ts';
import { checkFollowedRound, roundEvidence, signedUnderMode, type FollowFacts, type PeerLogEntry } from './check-round.ts';

/**
 * One sync step of a full follow (SPEC §12): read the origin's head, then verify and apply its
 * final rounds one by one from the replica's head, each in its own commit behind the lease (so a
 * kill at any point resumes from the last applied round and applies nothing twice). When caught
 * up it audits what it already holds: the origin's round at the replica's head must be the one it
 * verified (`fork` otherwise), and a page of the origin's log must still hold the transactions it
 * executed (`log_rewritten` otherwise). Well-formed signed data that fails a check halts the
 * follow with that data as evidence; transport trouble throws a PeerError (the loop backs off).
 */

export interface SyncReport {
  applied: number;
  status: 'syncing' | 'following' | 'halted';
}

// Pages sized so the largest possible answer stays under the peer client's 16 MiB cap: 20 rounds
// of up to 5,000 ids (~7 MB), 200 log entries of up to 64 KiB (~13 MB).
const ROUND_PAGE = 20;
const LOG_PAGE = 200;
/** A step stops after this long so the lease is renewed and other follows get their turn. */
const STEP_BUDGET_MS = 2000;

/** Per-follow memory of the loop: where the log audit stands. */
export interface FollowMemory {
  auditFrom: number;
}

export async function syncFollow(ctx: NodeContext, peer: PeerClient, f: Follow, lease: LeaseClaim, mem: FollowMemory): Promise<SyncReport> {
  const row = await getSubtree(ctx.db, f.subtree);
  const facts = await ctx.subtrees.get(f.subtree);
  if (!row || !facts) return { applied: 0, status: f.status };
  const originHead = await peer.subtree(f.subtree);
  const ff: FollowFacts = { creationMode: facts.mode, program: facts.program, config: facts.config, host: await hostKey(ctx, f.subtree) };
  let tip: ReplicaTip = { subtree: f.subtree, network: ctx.config.network, height: row.height, root: row.root, headHash: row.headHash, nextSeq: row.logSize };
  const halt = async (h: FollowHalt): Promise<SyncReport> => {
    await updateFollow(ctx.db, f.subtree, { status: 'halted', originHeight: originHead.height, halt: h, now: ctx.now() });
    ctx.log.error('follow halted', { subtree: f.subtree, origin: f.origin, code: h.code, detail: h.detail });
    return { applied, status: 'halted' };
  };
  let applied = 0;
  const started = ctx.now();
  while (tip.height < originHead.height && ctx.now() - started < STEP_BUDGET_MS) {
    const page = await peer.rounds(f.subtree, tip.height, Math.min(ROUND_PAGE, originHead.height - tip.height));
    if (page.items.length === 0) break;
    for (const round of page.items) {
      if (round.height !== tip.height + 1) break; // a gap in the listing: ask again from the head
      const log = await takeLog(peer, f.subtree, tip.nextSeq, round.txs.length);
      const check = await checkFollowedRound(ctx, tip, ff, round, log);
      if (!check.ok) return halt({ code: check.code, detail: check.detail, evidence: roundEvidence(round, log) });
      const logSize = tip.nextSeq + log.length;
      const status = round.height >= originHead.height ? 'following' : 'syncing';
      await applyFollowedRound(ctx.db, {
        subtree: f.subtree,
        height: check.header.height,
        hash: check.hash,
        header: asJson(check.header),
        signatures: round.signatures,
        txs: log.map((e) => {
          const env = e.envelope as TxEnvelope;
          return { id: e.id, seq: e.seq, sender: env.tx.sender, nonce: env.tx.nonce, body: JSON.stringify(e.envelope) };
        }),
        receipts: check.step.receipts,
        stateRoot: check.header.stateRoot,
        logSize,
        nodes: check.step.nodes,
        values: check.step.values,
        events: roundEvents(check.header, check.hash, check.step.receipts),
        originHeight: originHead.height,
        status,
        lease,
        now: ctx.now(),
      });
      ctx.store.remember(check.step.nodes, check.step.values);
      tip = { ...tip, height: check.header.height, root: check.header.stateRoot, headHash: check.hash, nextSeq: logSize };
      applied++;
      if (ctx.now() - started >= STEP_BUDGET_MS) break;
    }
  }
  if (tip.height < originHead.height) {
    await updateFollow(ctx.db, f.subtree, { status: 'syncing', originHeight: originHead.height, now: ctx.now() });
    return { applied, status: 'syncing' };
  }
  if (applied === 0) {
    const lie = await audit(ctx, peer, f, tip, mem, ff);
    if (lie) return halt(lie);
  }
  await updateFollow(ctx.db, f.subtree, { status: 'following', originHeight: originHead.height, now: ctx.now() });
  return { applied, status: 'following' };
}

/** The next `count` entries of the origin's log from `from`, in pages. */
async function takeLog(peer: PeerClient, subtree: string, from: number, count: number): Promise<PeerLogEntry[]> {
  const out: PeerLogEntry[] = [];
  while (out.length < count) {
    const page = await peer.log(subtree, from + out.length, Math.min(LOG_PAGE, count - out.length));
    if (page.items.length === 0) break;
    out.push(...page.items.slice(0, count - out.length));
  }
  return out;
}

/**
 * Checks what the replica holds against what the origin serves now: the head round (another
 * signed header at a verified height is a fork) and one page of the log (a different transaction
 * at a seq this node executed is a rewritten log). The audit walks the log a page per idle step.
 */
async function audit(ctx: NodeContext, peer: PeerClient, f: Follow, tip: ReplicaTip, mem: FollowMemory, facts: FollowFacts): Promise<FollowHalt | null> {
  if (tip.height > 0) {
    const theirs = await peer.round(f.subtree, tip.height);
    const mine = await getRound(ctx.db, f.subtree, tip.height);
    if (mine && theirs.hash !== mine.hash) {
      const header = (() => {
        try {
          return parseRoundHeader(theirs.header);
        } catch {
          return null;
        }
      })();
      if (header && header.height === tip.height && header.subtree === f.subtree) {
        // Final means signed under the mode in force at that height (from the state before it).
        const before = await getRound(ctx.db, f.subtree, tip.height - 1);
        const signed = before ? await signedUnderMode(ctx, { ...tip, height: tip.height - 1, root: before.stateRoot }, facts, toHex(roundHash(header, ctx.hash)), theirs.signatures) : false;
        if (!signed) {
          return {
            code: 'bad_signature',
            detail: `the origin now serves a round ${tip.height} whose signatures do not meet its mode`,
            evidence: { served: theirs } as unknown as JsonValue,
          };
        }
        return {
          code: 'fork',
          detail: `the origin now serves a different round ${tip.height} (${theirs.hash}) than the one verified here (${mine.hash})`,
          evidence: { verified: { header: mine.header, hash: mine.hash, signatures: mine.signatures }, served: theirs } as unknown as JsonValue,
        };
      }
    }
  }
  if (tip.nextSeq === 0) return null;
  const from = mem.auditFrom >= tip.nextSeq ? 0 : mem.auditFrom;
  const limit = Math.min(LOG_PAGE, tip.nextSeq - from);
  const served = await peer.log(f.subtree, from, limit);
  const held = await logRange(ctx.db, f.subtree, from, limit);
  for (const [i, h] of held.entries()) {
    const s = served.items[i];
    if (!s || s.seq !== h.seq) break; // a short page: transport, checked again later
    if (s.id !== h.id || jcs(s.envelope as JsonValue) !== jcs(h.envelope as unknown as JsonValue)) {
      return {
        code: 'log_rewritten',
        detail: `the origin's log at seq ${h.seq} now holds ${s.id}; this node executed ${h.id} there`,
        evidence: { seq: h.seq, executed: { id: h.id, envelope: h.envelope }, served: s } as unknown as JsonValue,
      };
    }
  }
  mem.auditFrom = from + held.length;
  return null;
}

