import type { Mode } from '../core/consensus/mode.ts';
import { checkSystemCall, systemCallNames } from '../core/consensus/system.ts';
import { DstpError } from '../core/errors.ts';
import type { JsonValue } from '../core/jcs.ts';
import type { Program } from '../core/programs/types.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { MAX_BATCH } from '../core/limits.ts';
import { parseTxEnvelope, txId, type TxEnvelope } from '../core/tx.ts';
import { isNodeCall } from '../core/system-calls.ts';
import { ApiError, problemOf, type ProblemBody } from '../api/problem.ts';
import type { AcceptItem, AcceptResult } from '../store/index.ts';
import { signedAcceptance, type AcceptResponse } from './acceptance.ts';
import type { NodeContext } from './context.ts';
import type { SubtreeFacts } from './subtree-cache.ts';
import { followedSubtreeOf, forwardTransaction } from '../follow/forward.ts';

/**
 * POST /v1/transactions. Everything that can be checked without the log — shape, network,
 * subtree, call arguments, signature — is checked before the write transaction, so bad input
 * never reaches the database. The group committer then decides id/nonce against the log and
 * resolves only after COMMIT: a 202 is durable.
 */
export async function submitTransaction(
  ctx: NodeContext,
  body: unknown,
  /** The client's address, passed on when forwarding to an origin (DSTP_TRUSTED_PEERS there). */
  client?: string,
): Promise<{ status: 200 | 202; body: AcceptResponse }> {
  // A followed subtree's log is its origin's (SPEC §12): forward, and check the origin's acceptance.
  const followed = await followedSubtreeOf(ctx, body);
  if (followed) return forwardTransaction(ctx, followed, body, client);
  const { item, facts, program } = await prepare(ctx, body);
  if (program) await ctx.admission.check(facts, item.envelope.tx);
  const result = await ctx.committer.accept(item);
  const out = await settle(ctx, item, result);
  if (out.status === 202) ctx.kickLeader();
  return out;
}

export interface BatchItem {
  index: number;
  status: number;
  id?: string;
  accept?: AcceptResponse['accept'];
  sig?: string;
  problem?: ProblemBody;
}

/**
 * POST /v1/transactions/batch `{ "txs": [envelope, …] }` (1–1000). Items are judged one by one
 * in order (a later item may use the nonce after an earlier one); the valid ones are appended in
 * ONE group commit. The answer lists each item's own status; the response is 202 when at least
 * one new transaction was accepted, else 200.
 */
export async function submitBatch(ctx: NodeContext, body: unknown, client?: string): Promise<{ status: 200 | 202; body: { items: BatchItem[] } }> {
  const envelopes = batchEnvelopes(body);
  const items: BatchItem[] = new Array(envelopes.length);
  const ready: { index: number; item: AcceptItem }[] = [];
  // Items of followed subtrees go to their origins one by one, in order (SPEC §12).
  const followed = await Promise.all(envelopes.map((e) => followedSubtreeOf(ctx, e)));
  let forwardedNew = false;
  for (const [i, subtree] of followed.entries()) {
    if (!subtree) continue;
    try {
      const out = await forwardTransaction(ctx, subtree, envelopes[i], client);
      forwardedNew ||= out.status === 202;
      items[i] = { index: i, status: out.status, ...out.body };
    } catch (e) {
      items[i] = { index: i, ...failure(e) };
    }
  }
  // Items are checked concurrently (their signatures travel to the crypto threads together);
  // nothing here depends on another item: nonces are decided in order by the committer.
  const local = envelopes.map((e, i) => (followed[i] ? null : e));
  const checked = await Promise.allSettled(local.map((e) => (e === null ? Promise.reject(FORWARDED) : prepare(ctx, e))));
  // Admission goes in order: an item may spend what an earlier item of the batch credits.
  const credited = new Map<string, Set<string>>();
  for (const [i, c] of checked.entries()) {
    if (c.status === 'rejected') {
      if (c.reason !== FORWARDED) items[i] = { index: i, ...failure(c.reason) };
      continue;
    }
    const { item, facts, program } = c.value;
    if (program) {
      const mine = credited.get(item.subtree) ?? new Set<string>();
      try {
        await ctx.admission.check(facts, item.envelope.tx, mine);
      } catch (err) {
        items[i] = { index: i, ...failure(err) };
        continue;
      }
      for (const k of ctx.admission.credits(facts, item.envelope.tx)) mine.add(k);
      credited.set(item.subtree, mine);
    }
    ready.push({ index: i, item });
  }
  const results = await ctx.committer.acceptBatch(ready.map((r) => r.item));
  let accepted = false;
  // Acceptances are signed concurrently, like the checks above.
  const settled = await Promise.allSettled(ready.map(({ item }, k) => settle(ctx, item, results[k]!)));
  settled.forEach((s, k) => {
    const { index } = ready[k]!;
    if (s.status === 'fulfilled') {
      accepted ||= s.value.status === 202;
      items[index] = { index, status: s.value.status, ...s.value.body };
    } else items[index] = { index, ...failure(s.reason) };
  });
  if (accepted) ctx.kickLeader();
  return { status: accepted || forwardedNew ? 202 : 200, body: { items } };
}

/** Marks a batch item already answered by forwarding. */
const FORWARDED = Symbol('forwarded');

function batchEnvelopes(body: unknown): unknown[] {
  const txs = (body as { txs?: unknown } | null)?.txs;
  const keys = body !== null && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
  if (!Array.isArray(txs) || keys.length !== 1) {
    throw new ApiError('validation_failed', 'body must be { "txs": [ {tx, sig}, … ] } and nothing else');
  }
  if (txs.length === 0 || txs.length > MAX_BATCH) {
    throw new ApiError('validation_failed', `a batch holds 1 to ${MAX_BATCH} transactions, got ${txs.length}`);
  }
  return txs;
}

/** The checks that need no log and no state; `program` is false for the mode's own calls. */
async function prepare(ctx: NodeContext, body: unknown): Promise<{ item: AcceptItem; facts: SubtreeFacts; program: boolean }> {
  const envelope: TxEnvelope = parseTxEnvelope(body);
  const { tx } = envelope;
  if (tx.network !== ctx.config.network) {
    throw new ApiError('network_mismatch', `this node serves network "${ctx.config.network}", not "${tx.network}"`, {
      expected: ctx.config.network,
    });
  }
  const facts = await ctx.subtrees.get(tx.subtree);
  if (!facts) throw new ApiError('unknown_subtree', `no subtree ${tx.subtree} on this node`);
  // `sys_*` calls are the node's own (system-calls.ts): it appends them itself, never through this door.
  if (isNodeCall(tx.call)) throw new ApiError('reserved_call', `calls named "sys_*" are reserved for the node; "${tx.call}" is not accepted from users`, { call: tx.call });
  // The mode's reserved calls (set_signers; stake, unstake, slash) are checked by the mode, the rest by the program.
  // The node hosts the subtree, so its key is the host key a multisig signer set is judged against.
  const program = !checkSystemCall(facts.mode, tx.call, tx.args, ctx.signer.publicKey);
  if (program) checkProgramCall(facts, tx.call, tx.args);
  const id = txId(tx, ctx.hash);
  const ok = await ctx.verifier.verify(ctx.parseKey(tx.sender), id, fromHex(envelope.sig, 64, 'sig'));
  if (!ok) throw new ApiError('bad_signature', 'sig is not the sender\'s signature over the transaction id');
  // Counted only now: a forged envelope must not spend a real sender's allowance.
  const wait = ctx.limits.senders?.take(`${tx.subtree}\n${tx.sender}`) ?? 0;
  if (wait > 0) {
    throw new ApiError('rate_limited', `sender ${tx.sender} is over its limit of ${ctx.config.senderRateLimit} transactions/s in this subtree`, {
      retryAfter: wait,
    });
  }
  return { item: { id: toHex(id), subtree: tx.subtree, sender: tx.sender, nonce: tx.nonce, envelope }, facts, program };
}

async function settle(ctx: NodeContext, item: AcceptItem, r: AcceptResult): Promise<{ status: 200 | 202; body: AcceptResponse }> {
  switch (r.status) {
    case 'accepted':
      return { status: 202, body: await signedAcceptance(ctx, item.id, r) };
    case 'known':
      return { status: 200, body: await signedAcceptance(ctx, item.id, r.accept) };
    case 'nonce_mismatch':
      throw new ApiError('nonce_mismatch', `nonce ${item.nonce} is not the next one for this sender; expected ${r.expected}`, {
        expected: r.expected,
      });
    case 'too_many_pending':
      throw new ApiError(
        'too_many_pending',
        `sender ${item.sender} has ${r.limit} transactions pending in subtree ${item.subtree}, the most this node holds; retry once rounds have executed them`,
        { limit: r.limit, retryAfter: 1 },
      );
    case 'halted':
      throw new ApiError('subtree_halted', `subtree ${item.subtree} is halted and accepts no transactions`);
    case 'unknown_subtree':
      throw new ApiError('unknown_subtree', `no subtree ${item.subtree} on this node`);
  }
}

/** A bad item becomes its own problem entry; an unexpected error fails the whole request. */
function failure(err: unknown): { status: number; problem: ProblemBody } {
  const p = problemOf(err);
  if (!p) throw err;
  return { status: p.status, problem: p };
}

/** The program's structural check; an unknown call's problem lists every call the subtree takes, its mode's included. */
function checkProgramCall(facts: { mode: Mode; program: Program; config: unknown }, call: string, args: Record<string, JsonValue>): void {
  try {
    facts.program.checkCall(facts.config, call, args);
  } catch (e) {
    if (!(e instanceof DstpError) || e.code !== 'unknown_call') throw e;
    const calls = [...facts.program.calls, ...systemCallNames(facts.mode)];
    throw new DstpError('unknown_call', `${facts.program.name} has no call "${call}"; this subtree takes: ${calls.join(', ')}`, { call, calls });
  }
}
