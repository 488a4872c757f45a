import { modeAfter, type ReplicaTip } from '../cosigner/verify-round.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { CONSENSUS_KEY, isCoSignedMode } from '../core/consensus/state.ts';
import { asJson, jcs, type JsonValue } from '../core/jcs.ts';
import type { TxEnvelope } from '../core/tx.ts';
import { PeerError, type PeerClient, type PeerRound } from '../peers/peer-client.ts';
import { hostKey } from '../services/child-roots.ts';
import type { NodeContext } from '../services/context.ts';
import { roundEvents } from '../services/round-events.ts';
import { logRange } from '../store/log-range.ts';
import { applyFollowedRound, applyHeaderRounds, getRound, getSubtree, updateFollow, type Follow, type FollowHalt, type HeaderRound, type LeaseClaim } from '../store/index.ts';
import { checkHeaderRound, lightModeAfter } from './check-header.ts';
import { checkFollowedRound, roundEvidence, type FollowFacts, type PeerLogEntry } from './check-round.ts';
import { compareServedRound } from './fork.ts';
import { peerFor } from './peer-for.ts';

/**
 * One sync step of a follow (SPEC §12): read the origin's head, then verify and apply its final
 * rounds from the replica's head — a full follow re-executes each and commits it on its own, a
 * light (`headers`) follow checks links and finality only and commits a page at a time — behind
 * the lease and the replica's head, so a kill at any point resumes from the last commit and
 * applies nothing twice. When caught up it audits what it holds: the origin's round at the lower
 * of both heads, and each witness's, must be the one verified (`fork` otherwise, with both as
 * evidence), and (full) a page of the origin's log must still hold the transactions it executed
 * (`log_rewritten`). Well-formed signed data that fails a check halts the follow with that data
 * as evidence; transport trouble throws a PeerError (the loop backs off).
 */

export interface SyncReport {
  applied: number;
  status: 'syncing' | 'following' | 'halted';
}

// Pages sized so the largest possible answer stays under the peer client's 16 MiB cap: 20 rounds
// of up to 5,000 ids (~7 MB), 200 log entries of up to 64 KiB (~13 MB).
const ROUND_PAGE = 20;
const LOG_PAGE = 200;
/** Log pages in flight at once. */
const LOG_FETCHES = 4;
/** Rounds per page (and per commit) of a light follow. */
const HEADER_PAGE = 20;
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
  const tip0: ReplicaTip = { subtree: f.subtree, network: ctx.config.network, height: row.height, root: row.root, headHash: row.headHash, nextSeq: row.logSize };
  const halt = async (h: FollowHalt, applied: number): Promise<SyncReport> => {
    await updateFollow(ctx.db, f.subtree, { status: 'halted', originHeight: originHead.height, halt: h, now: ctx.now() });
    ctx.log.error('follow halted', { subtree: f.subtree, origin: f.origin, code: h.code, detail: h.detail });
    return { applied, status: 'halted' };
  };
  const modeAt = modeAtFor(ctx, peer, f, ff);
  const step = f.verify === 'headers' ? await applyHeaders(ctx, peer, f, ff, tip0, originHead.height, lease) : await applyFull(ctx, peer, f, ff, tip0, originHead.height, lease);
  const tip = step.tip;
  if (step.halt) {
    // A round that does not link to this node's head may be the origin's other history: if the
    // origin's own round at this head is signed and differs, that is the fork it is.
    if (step.halt.code === 'bad_link' && tip.height > 0) {
      let theirs: PeerRound | null = null;
      try {
        theirs = await peer.round(f.subtree, tip.height);
      } catch (e) {
        if (!(e instanceof PeerError && e.kind === 'not_found')) throw e; // transport: judged again after back-off
      }
      const v = theirs ? await compareServedRound(ctx, f.subtree, { round: theirs, source: 'origin' }, modeAt) : null;
      if (v?.kind === 'fork') return halt(v.halt, step.applied);
    }
    return halt(step.halt, step.applied);
  }
  if (tip.height < originHead.height) {
    await updateFollow(ctx.db, f.subtree, { status: 'syncing', originHeight: originHead.height, now: ctx.now() });
    return { applied: step.applied, status: 'syncing' };
  }
  if (step.applied === 0) {
    const lie = (await headAudit(ctx, peer, f, Math.min(tip.height, originHead.height), modeAt)) ?? (f.verify === 'full' ? await logAudit(ctx, peer, f, tip, mem) : null);
    if (lie) return halt(lie, 0);
  }
  // An idle check that changes nothing writes nothing (a hub runs many of them).
  if (step.applied > 0 || f.status !== 'following' || f.originHeight < originHead.height) {
    await updateFollow(ctx.db, f.subtree, { status: 'following', originHeight: originHead.height, now: ctx.now() });
  }
  return { applied: step.applied, status: 'following' };
}

interface Step {
  tip: ReplicaTip;
  applied: number;
  halt?: FollowHalt;
}

/**
 * Full follow: each final round checked and re-executed, then committed on its own. The log of
 * the next round is fetched while this one is checked and committed, its pages a few at a time.
 */
async function applyFull(ctx: NodeContext, peer: PeerClient, f: Follow, ff: FollowFacts, start: ReplicaTip, originHeight: number, lease: LeaseClaim): Promise<Step> {
  let tip = start;
  let applied = 0;
  const started = ctx.now();
  while (tip.height < originHeight && ctx.now() - started < STEP_BUDGET_MS) {
    const page = await peer.rounds(f.subtree, tip.height, Math.min(ROUND_PAGE, originHeight - tip.height));
    // The page's rounds up to a gap in the listing (asked again from the head next time).
    const gap = page.items.findIndex((r, i) => r.height !== tip.height + 1 + i);
    const rounds = gap === -1 ? page.items : page.items.slice(0, gap);
    if (rounds.length === 0) break;
    const firstSeq: number[] = [];
    rounds.reduce((seq, r, i) => ((firstSeq[i] = seq), seq + r.txs.length), tip.nextSeq);
    const logs: Promise<PeerLogEntry[]>[] = [];
    const prefetch = (i: number) => {
      if (i >= rounds.length || logs[i]) return;
      logs[i] = takeLog(peer, f.subtree, firstSeq[i]!, rounds[i]!.txs.length);
      logs[i]!.catch(() => {}); // awaited below, or dropped when the step ends early
    };
    prefetch(0);
    for (const [i, round] of rounds.entries()) {
      prefetch(i + 1);
      const log = await logs[i]!;
      const check = await checkFollowedRound(ctx, tip, ff, round, log);
      if (!check.ok) return { tip, applied, halt: { code: check.code, detail: check.detail, evidence: roundEvidence(round, log) } };
      const logSize = tip.nextSeq + log.length;
      const status = round.height >= originHeight ? 'following' : 'syncing';
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
        originHeight,
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
  return { tip, applied };
}

/**
 * Light follow: each page of final rounds checked for links and finality (no state, no log),
 * the verified ones committed together; a round that fails is preceded by a commit of those
 * before it, so the follow halts at its last verified round.
 */
async function applyHeaders(ctx: NodeContext, peer: PeerClient, f: Follow, ff: FollowFacts, start: ReplicaTip, originHeight: number, lease: LeaseClaim): Promise<Step> {
  let tip = start;
  let applied = 0;
  const started = ctx.now();
  while (tip.height < originHeight && ctx.now() - started < STEP_BUDGET_MS) {
    const page = await peer.rounds(f.subtree, tip.height, Math.min(HEADER_PAGE, originHeight - tip.height));
    if (page.items.length === 0) break;
    const batch: HeaderRound[] = [];
    let next = tip;
    let failed: FollowHalt | undefined;
    // Multisig and pos: the page's sys/consensus answers are asked for at once; each is judged
    // against the round before it only once that round verified.
    const proofs = isCoSignedMode(ff.creationMode) ? page.items.map((r) => peer.state(f.subtree, CONSENSUS_KEY, r.height - 1)) : [];
    for (const p of proofs) p.catch(() => {}); // the ones after a failure are never awaited
    for (const [i, round] of page.items.entries()) {
      if (round.height !== next.height + 1) break;
      const mode = await lightModeAfter(ctx, peer, next, ff.creationMode, proofs[i]);
      const c = await checkHeaderRound(ctx, next, mode, round);
      if (!c.ok) {
        failed = { code: c.code, detail: c.detail, evidence: { round } as unknown as JsonValue };
        break;
      }
      batch.push({ height: c.header.height, hash: c.hash, header: asJson(c.header), signatures: round.signatures, txIds: round.txs, stateRoot: c.header.stateRoot, events: roundEvents(c.header, c.hash, []) });
      next = { ...next, height: c.header.height, root: c.header.stateRoot, headHash: c.hash, nextSeq: next.nextSeq + c.header.txCount };
    }
    if (batch.length > 0) {
      await applyHeaderRounds(ctx.db, { subtree: f.subtree, rounds: batch, logSize: next.nextSeq, originHeight, status: next.height >= originHeight ? 'following' : 'syncing', lease, now: ctx.now() });
      tip = next;
      applied += batch.length;
    }
    if (failed) return { tip, applied, halt: failed };
    if (batch.length === 0) break;
  }
  return { tip, applied };
}

/** The mode in force for round `h` of this follow, from the state after round h − 1 (its own, or proven by the origin). */
function modeAtFor(ctx: NodeContext, peer: PeerClient, f: Follow, ff: FollowFacts): (h: number) => Promise<Mode> {
  return async (h) => {
    const before = await getRound(ctx.db, f.subtree, h - 1);
    if (!before) throw new Error(`round ${h - 1} of followed subtree ${f.subtree} is missing`);
    const tip: ReplicaTip = { subtree: f.subtree, network: ctx.config.network, height: h - 1, root: before.stateRoot, headHash: before.hash, nextSeq: 0 };
    return f.verify === 'headers' ? lightModeAfter(ctx, peer, tip, ff.creationMode) : modeAfter(tip, ff.creationMode, ctx.tree, ctx.store, ctx.hash);
  };
}

/**
 * The round at `height` (the lower of this node's head and the origin's) as the origin serves it
 * now, then as each witness (DSTP_FOLLOW_WITNESSES) serves it at the lower of its head and ours:
 * a different final header is a fork. The origin serving one that is not final is
 * `bad_signature`; a witness's trouble or junk only costs it its say.
 */
async function headAudit(ctx: NodeContext, peer: PeerClient, f: Follow, height: number, modeAt: (h: number) => Promise<Mode>): Promise<FollowHalt | null> {
  if (height >= 1) {
    const served = await peer.round(f.subtree, height);
    const v = await compareServedRound(ctx, f.subtree, { round: served, source: 'origin' }, modeAt);
    if (v.kind === 'fork') return v.halt;
    if (v.kind === 'unsigned') {
      return { code: 'bad_signature', detail: `the origin now serves a round ${height} whose signatures do not meet its mode`, evidence: { served } as unknown as JsonValue };
    }
  }
  for (const w of ctx.config.followWitnesses) {
    try {
      const wp = peerFor(ctx, w);
      const h = Math.min((await wp.subtree(f.subtree)).height, height);
      if (h < 1) continue;
      const v = await compareServedRound(ctx, f.subtree, { round: await wp.round(f.subtree, h), source: wp.origin }, modeAt);
      if (v.kind === 'fork') return v.halt;
    } catch (e) {
      ctx.log.debug('witness not compared', { subtree: f.subtree, witness: w, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return null;
}

/** The next `count` entries of the origin's log from `from`, in pages fetched LOG_FETCHES at a time; cut at a short page. */
async function takeLog(peer: PeerClient, subtree: string, from: number, count: number): Promise<PeerLogEntry[]> {
  const offsets: number[] = [];
  for (let o = 0; o < count; o += LOG_PAGE) offsets.push(o);
  const pages: PeerLogEntry[][] = new Array(offsets.length);
  let next = 0;
  const worker = async () => {
    while (next < offsets.length) {
      const k = next++;
      const o = offsets[k]!;
      pages[k] = (await peer.log(subtree, from + o, Math.min(LOG_PAGE, count - o))).items;
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOG_FETCHES, offsets.length) }, worker));
  const out: PeerLogEntry[] = [];
  for (const [k, items] of pages.entries()) {
    const want = Math.min(LOG_PAGE, count - offsets[k]!);
    out.push(...items.slice(0, want));
    if (items.length < want) break;
  }
  return out;
}

/**
 * One page of the origin's log against what this node executed (a different transaction at a
 * seq executed here is a rewritten log). The audit walks the log a page per idle step.
 */
async function logAudit(ctx: NodeContext, peer: PeerClient, f: Follow, tip: ReplicaTip, mem: FollowMemory): Promise<FollowHalt | null> {
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

