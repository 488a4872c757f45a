import { assertSafeThreshold } from '../core/consensus/mode.ts';
import { checkCreationSignatures, type SignerSig } from '../core/consensus/signing-rules.ts';
import { digest } from '../core/digest.ts';
import { EMPTY_HASH } from '../core/hash.ts';
import { toHex } from '../core/hex.ts';
import { asJson, jcs } from '../core/jcs.ts';
import { ROOT_ID_HEX } from '../core/object-id.ts';
import { genesisHeader, roundHash } from '../core/round.ts';
import { parseSubtreeRequest, subtreeId, type SubtreeRequest, type SubtreeSpec } from '../core/subtree-request.ts';
import { ApiError } from '../api/problem.ts';
import { createSubtree, getSubtree, newSubtreeRow } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { forwardCreation } from '../follow/forward.ts';
import { subtreeHead, type SubtreeHead } from './subtree-view.ts';

/**
 * POST /v1/subtrees (SPEC §5). The request is authorized by its signatures: the owner's and the
 * mode's own rule. Where the node's key is one that must sign (it is the authority, a signer or a
 * validator), the node adds its signature itself — only for an admin caller, or for anyone when
 * the host opened creation (DSTP_OPEN_SUBTREES). Round 0 (genesis) is built, signed by the node
 * and committed with the subtree in one database transaction.
 */
export async function createSubtreeVerb(
  ctx: NodeContext,
  body: unknown,
  opts: { admin: boolean },
): Promise<{ status: 200 | 201; body: SubtreeHead }> {
  // A user program (js:<id>) must be loaded from the store before the request can be judged.
  await ctx.programs.load((body as { subtree?: { program?: unknown } } | null)?.subtree?.program);
  const req = parseSubtreeRequest(body, ctx.programs);
  const spec = req.subtree;
  if (spec.network !== ctx.config.network) {
    throw new ApiError('network_mismatch', `this node serves network "${ctx.config.network}", not "${spec.network}"`, {
      expected: ctx.config.network,
    });
  }
  // SPEC §5: a multisig mode keeps 2t − n ≥ 1, and ≥ 2 when this node's key is one of its signers.
  if (spec.mode.type === 'multisig') assertSafeThreshold(spec.mode, ctx.signer.publicKey);
  if (spec.parent !== ROOT_ID_HEX) {
    // A followed parent's log is its origin's (SPEC §12): the child is created there.
    const parent = await getSubtree(ctx.db, spec.parent);
    if (parent?.origin) return (await forwardCreation(ctx, parent.origin, toHex(subtreeId(spec, ctx.hash)), body)) as { status: 200 | 201; body: SubtreeHead };
    await checkParent(ctx, spec, opts.admin);
  }
  const sigs = await completeSignatures(ctx, req, opts.admin);
  const id = toHex(subtreeId(spec, ctx.hash));

  const genesis = await ctx.tree.apply(EMPTY_HASH, spec.genesis);
  const now = ctx.now();
  const header = genesisHeader({
    network: spec.network,
    subtree: id,
    stateRoot: toHex(genesis.root),
    proposer: ctx.signer.publicKey,
    time: now,
  });
  const hash = roundHash(header, ctx.hash);
  const nodeSig = toHex(await ctx.signer.sign(hash));
  const request = { subtree: spec, sigs };
  const result = await createSubtree(ctx.db, {
    row: newSubtreeRow(id, spec, asJson(request), now),
    genesisRound: {
      hash: toHex(hash),
      header: asJson(header),
      signatures: [{ signer: ctx.signer.publicKey, sig: nodeSig }],
      stateRoot: toHex(genesis.root),
    },
    nodes: genesis,
    values: genesis.values,
    events: [{ type: 'subtree.created', subtree: id, data: { subtree: id, owner: spec.owner, name: spec.name, program: spec.program } }],
  });
  if (result.status === 'created') ctx.store.remember(genesis, genesis.values);
  if (result.status === 'exists') {
    // The same signed subtree again is idempotent; another one under the same id is a conflict.
    const existing = (result.subtree.request as { subtree?: unknown } | null)?.subtree;
    if (existing === undefined || jcs(existing) !== jcs(spec)) {
      throw new ApiError('subtree_exists', `subtree ${id} (owner ${spec.owner}, name "${spec.name}") exists with different contents`);
    }
    return { status: 200, body: subtreeHead(result.subtree) };
  }
  return { status: 201, body: subtreeHead(result.subtree) };
}

/**
 * A nested subtree (SPEC §3: `parent` is another subtree's id) needs a parent on this node, and the
 * parent's consent: its owner must be the child's owner too (so the owner's signature on the
 * request is the parent owner's), or the caller holds the admin token (the host places a child for
 * someone else). SPEC is silent on who may nest; this keeps strangers from filling a parent's state
 * with `sys/child/*` entries. The ids stay unsquattable either way: they hash the child's owner.
 */
async function checkParent(ctx: NodeContext, spec: SubtreeSpec, admin: boolean): Promise<void> {
  const parent = await getSubtree(ctx.db, spec.parent);
  if (!parent) {
    throw new ApiError('unknown_parent', `no subtree ${spec.parent} on this node to nest under`, { field: 'subtree.parent', parent: spec.parent });
  }
  if (parent.owner !== spec.owner && !admin) {
    throw new ApiError('forbidden', "only the parent's owner (as the child's owner) or a caller with the admin token may create a subtree under this parent", {
      field: 'subtree.owner',
      parent: spec.parent,
      parentOwner: parent.owner,
    });
  }
}

/** Verifies the given signatures and adds the node's own where it is required and allowed. */
async function completeSignatures(ctx: NodeContext, req: SubtreeRequest, admin: boolean): Promise<SignerSig[]> {
  const check = checkCreationSignatures(req.subtree, req.sigs, ctx.hash);
  if (check.ok) return req.sigs;
  const me = ctx.signer.publicKey;
  const nodeCanHelp = check.missing.some((m) => ('key' in m ? m.key === me : m.candidates.includes(me)));
  if (nodeCanHelp && !check.signers.includes(me)) {
    if (!admin && !ctx.config.openSubtrees) {
      throw new ApiError('forbidden', 'the node signs creation requests only for callers with the admin token (or when DSTP_OPEN_SUBTREES is on)', {
        missing: check.missing,
      });
    }
    const sig = toHex(await ctx.signer.sign(digest('subtree', req.subtree, ctx.hash)));
    const sigs = [...req.sigs, { signer: me, sig }];
    const again = checkCreationSignatures(req.subtree, sigs, ctx.hash);
    if (again.ok) return sigs;
    throw missingSignatures(again.missing);
  }
  throw missingSignatures(check.missing);
}

function missingSignatures(missing: unknown[]): ApiError {
  return new ApiError('missing_signatures', 'the creation request lacks signatures its owner or mode require', { missing });
}
