import { AcceptResponse as AcceptResponseSchema, Problem, SubtreeHead } from '../api/schemas.ts';
import { jcs, type JsonValue } from '../core/jcs.ts';
import { ApiError } from '../api/problem.ts';
import { digest } from '../core/digest.ts';
import { fromHex } from '../core/hex.ts';
import { parseTxEnvelope, txIdHex } from '../core/tx.ts';
import { PeerError } from '../peers/peer-client.ts';
import type { AcceptResponse } from '../services/acceptance.ts';
import type { NodeContext } from '../services/context.ts';
import { TxView } from '../api/routes/transactions/transactions.routes.ts';
import { getFollow, type Follow } from '../store/index.ts';
import { peerFor, peerProblem } from './peer-for.ts';

/**
 * Forwarding (SPEC §12): a transaction for a followed subtree goes to its origin. The origin's
 * acceptance comes back unchanged only if it is for this transaction, names the subtree and this
 * network, and carries a valid signature of the origin's node key pinned when the follow began;
 * anything else is `502 origin_bad_answer` (an origin's own refusal, e.g. `409 nonce_mismatch`,
 * rides along as `originStatus` and `originProblem`, so a client can still read it), and an origin
 * that does not answer `503 origin_unreachable`.
 */

/** The subtree a body names, when this node follows it (a cheap look at the cached facts). */
export async function followedSubtreeOf(ctx: NodeContext, body: unknown): Promise<string | null> {
  const subtree = (body as { tx?: { subtree?: unknown } } | null)?.tx?.subtree;
  if (typeof subtree !== 'string') return null;
  const facts = await ctx.subtrees.get(subtree);
  return facts?.origin ? subtree : null;
}

export type Forwarded = { status: 200 | 202; body: AcceptResponse };

export async function forwardTransaction(ctx: NodeContext, subtree: string, body: unknown, client?: string): Promise<Forwarded> {
  // Bad input stays here: the origin only sees transactions that could be accepted.
  const env = parseTxEnvelope(body);
  if (env.tx.network !== ctx.config.network) {
    throw new ApiError('network_mismatch', `this node serves network "${ctx.config.network}", not "${env.tx.network}"`, { expected: ctx.config.network });
  }
  const ok = await ctx.verifier.verify(ctx.parseKey(env.tx.sender), fromHex(txIdHex(env.tx, ctx.hash), 32), fromHex(env.sig, 64, 'sig'));
  if (!ok) throw new ApiError('bad_signature', 'sig is not the sender\'s signature over the transaction id');
  const f = await getFollow(ctx.db, subtree);
  if (!f) throw new ApiError('unknown_subtree', `no subtree ${subtree} on this node`);
  const id = txIdHex(env.tx, ctx.hash);
  let answer;
  try {
    // The origin counts its write limits per client: name ours (it honours it for DSTP_TRUSTED_PEERS).
    answer = await peerFor(ctx, f.origin).forward('POST', '/v1/transactions', JSON.stringify(env), client);
  } catch (e) {
    if (e instanceof PeerError && e.kind === 'bad_answer') throw new ApiError('origin_bad_answer', `the origin's answer is unusable: ${e.message}`);
    throw peerProblem(e, `origin ${f.origin}`);
  }
  if (answer.status === 200 || answer.status === 202) {
    const a = AcceptResponseSchema.safeParse(answer.body);
    const good =
      a.success &&
      a.data.id === id &&
      a.data.accept.tx === id &&
      a.data.accept.subtree === subtree &&
      a.data.accept.network === ctx.config.network &&
      /^[0-9a-f]{128}$/.test(a.data.sig) &&
      (await ctx.verifier.verify(ctx.parseKey(f.originKey), digest('accept', a.data.accept, ctx.hash), fromHex(a.data.sig, 64)).catch(() => false));
    if (!good) throw new ApiError('origin_bad_answer', `the origin's ${answer.status} does not carry an acceptance of ${id} signed by its node key ${f.originKey}`);
    return { status: answer.status as 200 | 202, body: answer.body as AcceptResponse };
  }
  throw refusedByOrigin(answer.status, answer.body, 'an acceptance');
}

/** `502 origin_bad_answer` for an answer without what was asked; the origin's problem, if any, rides along. */
function refusedByOrigin(status: number, body: unknown, wanted: string): ApiError {
  const p = Problem.safeParse(body);
  const problem = p.success && p.data.status === status ? p.data : undefined;
  return new ApiError(
    'origin_bad_answer',
    problem ? `the origin answered ${status} ${problem.code}: ${problem.detail}` : `the origin answered ${status} without ${wanted}`,
    { originStatus: status, ...(problem ? { originProblem: problem } : {}) },
  );
}

/** At most this many origins are asked for a transaction this node has not seen yet. */
const STATUS_ORIGINS = 8;

/**
 * GET /v1/transactions/:id for a followed subtree's transaction: the acceptance is the origin's,
 * so the origin is asked and its answer comes back unchanged when its acceptance of this id
 * verifies against the pinned key (this node never signs an acceptance it did not give). `follows`
 * are the candidates: the one of the known subtree, or for an id not replicated yet (just
 * forwarded), the live follows' origins. Returns null when none knows it.
 */
export async function forwardTransactionStatus(ctx: NodeContext, id: string, candidates: readonly Follow[]): Promise<unknown | null> {
  const seen = new Set<string>();
  let unreachable: ApiError | null = null;
  for (const f of candidates) {
    if (seen.has(f.origin) || seen.size >= STATUS_ORIGINS) continue;
    seen.add(f.origin);
    let answer;
    try {
      answer = await peerFor(ctx, f.origin).forward('GET', `/v1/transactions/${id}`);
    } catch (e) {
      unreachable = e instanceof PeerError && e.kind === 'bad_answer' ? new ApiError('origin_bad_answer', `the origin's answer is unusable: ${e.message}`) : peerProblem(e, `origin ${f.origin}`);
      continue;
    }
    if (answer.status === 404) continue;
    const v = TxView.safeParse(answer.body);
    const follow = v.success ? candidates.find((c) => c.subtree === v.data.subtree && c.origin === f.origin) : undefined;
    const good =
      v.success &&
      follow !== undefined &&
      v.data.id === id &&
      v.data.accept.tx === id &&
      v.data.accept.subtree === v.data.subtree &&
      /^[0-9a-f]{128}$/.test(v.data.sig) &&
      (await ctx.verifier.verify(ctx.parseKey(follow.originKey), digest('accept', v.data.accept, ctx.hash), fromHex(v.data.sig, 64)).catch(() => false));
    if (!good) throw new ApiError('origin_bad_answer', `the origin's answer for ${id} does not carry its acceptance signed by its pinned node key`);
    return answer.body;
  }
  if (unreachable) throw unreachable;
  return null;
}

/**
 * POST /v1/subtrees with a followed parent (SPEC §12): the child is created at the parent's
 * origin. Its answer comes back unchanged when it is the head of exactly the requested subtree
 * (its id and creation request); anything else is `502 origin_bad_answer`, as for transactions.
 */
export async function forwardCreation(ctx: NodeContext, origin: string, id: string, body: unknown): Promise<{ status: 200 | 201; body: unknown }> {
  let answer;
  try {
    answer = await peerFor(ctx, origin).forward('POST', '/v1/subtrees', JSON.stringify(body));
  } catch (e) {
    if (e instanceof PeerError && e.kind === 'bad_answer') throw new ApiError('origin_bad_answer', `the origin's answer is unusable: ${e.message}`);
    throw peerProblem(e, `origin ${origin}`);
  }
  if (answer.status === 200 || answer.status === 201) {
    const h = SubtreeHead.safeParse(answer.body);
    const sent = (body as { subtree?: unknown }).subtree;
    const same = h.success && h.data.id === id && jcs((h.data.request as { subtree?: JsonValue } | null)?.subtree ?? null) === jcs(sent as JsonValue);
    if (!same) throw new ApiError('origin_bad_answer', `the origin's ${answer.status} is not the head of subtree ${id} created from this request`);
    return { status: answer.status, body: answer.body };
  }
  throw refusedByOrigin(answer.status, answer.body, 'the subtree head');
}
