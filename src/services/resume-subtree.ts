import { ApiError } from '../api/problem.ts';
import type { MultisigMode } from '../core/consensus/mode.ts';
import { resumeDigest, resumeObject, type ResumeObject } from '../core/consensus/resume.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { exactObject } from '../core/strict.ts';
import { parseKeyField } from '../core/tx.ts';
import { parseSigField } from './round-signatures.ts';
import { addResumeSignatures, latestHalt, type Halt } from '../store/halts.ts';
import { getRound, getSubtree } from '../store/index.ts';
import { modeAt } from './consensus-view.ts';
import type { NodeContext } from './context.ts';
import type { SubtreeFacts } from './subtree-cache.ts';

/** What a signer needs to lift a halt, and how far the collection has come. */
export interface ResumeView {
  subtree: string;
  status: 'halted' | 'active';
  /** The object to sign; its digest is `H("DSTP/resume/v1\n" || jcs(resume))`. */
  resume: ResumeObject;
  digest: string;
  signatures: { signer: string; sig: string }[];
  /** The signers whose signatures count, and how many are needed. */
  signers: string[];
  threshold: number;
}

export const MAX_RESUME_SIGS = 64;

async function haltContext(ctx: NodeContext, subtreeId: string): Promise<{ facts: SubtreeFacts; mode: MultisigMode; halt: Halt; active: boolean }> {
  const facts = await ctx.subtrees.get(subtreeId);
  const row = await getSubtree(ctx.db, subtreeId);
  if (!facts || !row) throw new ApiError('unknown_subtree', `no subtree ${subtreeId} on this node`);
  if (facts.mode.type !== 'multisig') {
    throw new ApiError('subtree_not_halted', `subtree ${subtreeId} is ${facts.mode.type}; only multisig subtrees halt and resume`);
  }
  const halt = await latestHalt(ctx.db, subtreeId);
  if (!halt) throw new ApiError('subtree_not_halted', `subtree ${subtreeId} has never halted`);
  // The signers in force for the next round are the ones who may lift the halt.
  const mode = (await modeAt(ctx, facts, row.height + 1, row.root)) as MultisigMode;
  return { facts, mode, halt, active: row.status === 'active' };
}

async function view(ctx: NodeContext, subtree: string, mode: MultisigMode, halt: Halt, active: boolean): Promise<ResumeView> {
  const at = await getRound(ctx.db, subtree, halt.height);
  if (!at) throw new Error(`subtree ${subtree} has no round at its halt height ${halt.height}`);
  const resume = resumeObject({ network: ctx.config.network, subtree, height: halt.height, halt: halt.seq, round: at.hash, evidence: halt.evidence });
  return {
    subtree,
    status: active ? 'active' : 'halted',
    resume,
    digest: toHex(resumeDigest(resume, ctx.hash)),
    signatures: halt.signatures,
    signers: mode.signers,
    threshold: mode.threshold,
  };
}

/** GET /v1/subtrees/:id/resume — the latest halt's resume object (409 subtree_not_halted if it never halted). */
export async function getResume(ctx: NodeContext, subtreeId: string): Promise<ResumeView> {
  const { mode, halt, active } = await haltContext(ctx, subtreeId);
  return await view(ctx, subtreeId, mode, halt, active && halt.resumedAt !== null);
}

/**
 * POST /v1/subtrees/:id/resume `{ "sigs": [{signer, sig}, …] }` over the current halt's resume
 * digest. Every signature is checked before anything is written (403 not_a_signer, 401
 * bad_signature); valid ones are collected across calls, and the one that brings the count of
 * distinct current signers to the threshold lifts the halt in the same transaction (200). Until
 * then 202. Posting signatures already collected for a lifted halt answers 200 (a retry).
 */
export async function resumeSubtree(ctx: NodeContext, subtreeId: string, body: unknown): Promise<{ status: 200 | 202; body: ResumeView }> {
  const b = exactObject(body, ['sigs'], 'invalid_request', 'body');
  if (!Array.isArray(b.sigs) || b.sigs.length < 1 || b.sigs.length > MAX_RESUME_SIGS) {
    throw new ApiError('validation_failed', `sigs must list 1..${MAX_RESUME_SIGS} signatures`, { field: 'sigs' });
  }
  const sigs = b.sigs.map((s, i) => {
    const o = exactObject(s, ['signer', 'sig'], 'invalid_request', `sigs[${i}]`);
    return { signer: parseKeyField(o.signer, `sigs[${i}].signer`), sig: parseSigField(o.sig, `sigs[${i}].sig`) };
  });
  const { mode, halt, active } = await haltContext(ctx, subtreeId);
  const current = await view(ctx, subtreeId, mode, halt, active && halt.resumedAt !== null);
  if (halt.resumedAt !== null || active) {
    const retry = sigs.every((s) => halt.signatures.some((x) => x.signer === s.signer && x.sig === s.sig));
    if (retry) return { status: 200, body: current };
    throw new ApiError('subtree_not_halted', `subtree ${subtreeId} is not halted (halt ${halt.seq} was lifted)`);
  }
  const d = fromHex(current.digest, 32);
  for (const [i, s] of sigs.entries()) {
    if (!mode.signers.includes(s.signer)) {
      throw new ApiError('not_a_signer', `sigs[${i}]: ${s.signer} is not a signer of this subtree`, { signers: mode.signers });
    }
    if (!(await ctx.verifier.verify(ctx.parseKey(s.signer), d, fromHex(s.sig, 64)))) {
      throw new ApiError('bad_signature', `sigs[${i}] is not ${s.signer}'s signature over the resume digest ${current.digest}`, { resume: current.resume });
    }
  }
  const r = await addResumeSignatures(ctx.db, {
    subtree: subtreeId,
    seq: halt.seq,
    signatures: sigs,
    isEnough: (all) => mode.signers.filter((k) => all.some((s) => s.signer === k)).length >= mode.threshold,
    now: ctx.now(),
  });
  if (r.status === 'unknown_halt' || !r.halt) throw new ApiError('subtree_not_halted', `subtree ${subtreeId} has no halt ${halt.seq}`);
  if (r.status === 'already_resumed') throw new ApiError('subtree_not_halted', `halt ${halt.seq} of subtree ${subtreeId} was lifted meanwhile`);
  const resumed = r.status === 'resumed';
  if (resumed) {
    ctx.log.info('subtree resumed', { subtree: subtreeId, halt: halt.seq });
    ctx.kickLeader();
  }
  return { status: resumed ? 200 : 202, body: await view(ctx, subtreeId, mode, r.halt, resumed) };
}
