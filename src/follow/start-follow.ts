import { ApiError } from '../api/problem.ts';
import { checkCreationSignatures } from '../core/consensus/signing-rules.ts';
import { toHex } from '../core/hex.ts';
import { asJson, jcs, type JsonValue } from '../core/jcs.ts';
import { ROOT_ID_HEX } from '../core/object-id.ts';
import { NO_NEW_NODES } from '../core/smt/node-store.ts';
import { buildGenesis } from '../core/replay.ts';
import { genesisHeader, parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import { parseSubtreeRequest, subtreeId, type SubtreeRequest } from '../core/subtree-request.ts';
import { parseOrigin } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';
import { getFollow, getSubtree, newSubtreeRow, startFollow, startHaltedFollow, type FollowHalt } from '../store/index.ts';
import type { FollowVerify } from '../store/schema.ts';
import { followView, type FollowView } from './follow-view.ts';
import { fetchFollowedProgram } from './follow-program.ts';
import { peerFor, peerProblem } from './peer-for.ts';

/**
 * POST /v1/follows (SPEC §12). Everything that needs the origin's answer alone is judged here,
 * before anything is written: the origin is allowed and reachable, on this network, hosts the
 * subtree; then the creation request must yield the subtree id with the signatures its mode
 * requires, and the origin's round 0 must be that request's genesis. A request or genesis that
 * does not verify starts the follow halted (`bad_request`) with the origin's answer as evidence;
 * the replica (subtree row, round 0, genesis state) is written with the follow in one transaction.
 */
/** How deep nesting may go before following the ancestors gives up (as for proof chains). */
const MAX_NESTING = 64;

export async function followSubtreeVerb(
  ctx: NodeContext,
  body: { origin: string; subtree: string; verify?: FollowVerify },
  depth = 0,
): Promise<{ status: 200 | 201; body: FollowView }> {
  const verify = body.verify ?? 'full';
  let origin: string;
  try {
    origin = parseOrigin(body.origin);
  } catch (e) {
    throw peerProblem(e, 'origin');
  }
  const id = body.subtree;
  const known = await getFollow(ctx.db, id);
  if (known) {
    if (known.origin !== origin) throw new ApiError('follow_exists', `subtree ${id} is already followed from ${known.origin}`, { origin: known.origin });
    return { status: 200, body: await followView(ctx, known) };
  }
  if (await getSubtree(ctx.db, id)) throw new ApiError('subtree_hosted', `subtree ${id} is hosted by this node; a node never follows its own subtrees`);

  const peer = peerFor(ctx, origin);
  let info, head, r0;
  try {
    info = await peer.info();
    if (info.network !== ctx.config.network) {
      throw new ApiError('network_mismatch', `the origin serves network "${info.network}", this node "${ctx.config.network}"`, { expected: ctx.config.network });
    }
    if (info.publicKey === ctx.signer.publicKey) throw new ApiError('subtree_hosted', 'the origin is this node itself');
    head = await peer.subtree(id);
    r0 = await peer.round(id, 0);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw peerProblem(e, `origin ${origin}`);
  }
  if (head.id !== id) throw new ApiError('origin_bad_answer', `the origin answered for subtree ${head.id}, not ${id}`);
  const base = { subtree: id, origin, verify, originKey: info.publicKey, originHeight: head.height, now: ctx.now() };

  const refused = (halt: FollowHalt) => startHaltedFollow(ctx.db, { ...base, halt });
  await fetchFollowedProgram(ctx, peer, (head.request as { subtree?: { program?: unknown } } | null)?.subtree?.program);
  let req: SubtreeRequest;
  try {
    req = parseSubtreeRequest(head.request, ctx.programs);
  } catch (e) {
    return halted(ctx, id, await refused({ code: 'bad_request', detail: `the creation request is malformed: ${e instanceof Error ? e.message : String(e)}`, evidence: head.request as JsonValue }));
  }
  const spec = req.subtree;
  const problems: string[] = [];
  if (toHex(subtreeId(spec, ctx.hash)) !== id) problems.push(`it yields subtree id ${toHex(subtreeId(spec, ctx.hash))}, not ${id}`);
  if (spec.network !== ctx.config.network) problems.push(`it names network "${spec.network}"`);
  try {
    if (!checkCreationSignatures(spec, req.sigs, ctx.hash).ok) problems.push('it lacks signatures its owner or mode require');
  } catch (e) {
    problems.push(`its signatures do not verify (${e instanceof Error ? e.message : String(e)})`);
  }
  if (problems.length > 0) {
    return halted(ctx, id, await refused({ code: 'bad_request', detail: `the creation request does not verify: ${problems.join('; ')}`, evidence: head.request as JsonValue }));
  }
  // SPEC §12: following a nested subtree also follows its ancestors, from the same origin and the
  // same way (a nested value's chain runs through each parent's `sys/child/<child>`). Each parent
  // is judged as any follow is; then the child.
  if (spec.parent !== ROOT_ID_HEX && !(await getFollow(ctx.db, spec.parent))) {
    if (depth >= MAX_NESTING) throw new ApiError('unsupported_follow', `subtree ${id} is nested deeper than ${MAX_NESTING} levels`);
    if (await getSubtree(ctx.db, spec.parent)) throw new ApiError('subtree_hosted', `the parent ${spec.parent} of subtree ${id} is hosted by this node`);
    await followSubtreeVerb(ctx, { origin, subtree: spec.parent, verify }, depth + 1);
  }

  const g = await buildGenesis(ctx.tree, spec.genesis);
  let header: RoundHeader;
  try {
    header = parseRoundHeader(r0.header);
  } catch {
    return halted(ctx, id, await refused({ code: 'bad_link', detail: 'round 0 is malformed', evidence: r0 as unknown as JsonValue }));
  }
  // Round 0 must be exactly the genesis round of this request (only its proposer and time are free).
  const want = genesisHeader({ network: spec.network, subtree: id, stateRoot: toHex(g.root), proposer: header.proposer, time: header.time });
  if (jcs(asJson(want)) !== jcs(asJson(header))) {
    const code = header.stateRoot !== want.stateRoot ? 'root_mismatch' : 'bad_link';
    return halted(ctx, id, await refused({ code, detail: 'round 0 is not the genesis round of the creation request', evidence: r0 as unknown as JsonValue }));
  }
  const hash = toHex(roundHash(header, ctx.hash));
  const started = await startFollow(ctx.db, {
    ...base,
    row: newSubtreeRow(id, spec, head.request as JsonValue, base.now),
    genesisRound: { hash, header: asJson(header), signatures: r0.signatures, stateRoot: header.stateRoot },
    // A light follow keeps no state: the genesis root is checked, its nodes are not stored.
    nodes: verify === 'full' ? g : NO_NEW_NODES,
    values: verify === 'full' ? g.values : [],
    events: [{ type: 'subtree.created', subtree: id, data: { subtree: id, owner: spec.owner, name: spec.name, program: spec.program, origin } }],
  });
  if (started && verify === 'full') ctx.store.remember(g, g.values);
  ctx.kickFollows?.();
  const now = await getFollow(ctx.db, id);
  if (!now) throw new ApiError('conflict', `the follow of ${id} was dropped while it started; try again`);
  return { status: started ? 201 : 200, body: await followView(ctx, now) };
}

async function halted(ctx: NodeContext, id: string, started: boolean): Promise<{ status: 200 | 201; body: FollowView }> {
  const f = await getFollow(ctx.db, id);
  if (!f) throw new ApiError('conflict', `the follow of ${id} was dropped while it started; try again`);
  return { status: started ? 201 : 200, body: await followView(ctx, f) };
}

