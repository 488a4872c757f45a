import { fromHex, toHex } from '../core/hex.ts';
import { asJson } from '../core/jcs.ts';
import { executeAndCommitRound } from '../core/replay.ts';
import { nextHeader, parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import type { IdentifiedTx } from '../core/tx.ts';
import type { NodeContext } from '../services/context.ts';
import { roundEvents } from '../services/round-events.ts';
import { commitRound, getOpenProposal, getRound, getSubtree, insertProposal, pendingTxs, type LeaseClaim } from '../store/index.ts';

export interface RoundReport {
  subtree: string;
  height: number;
  hash: string;
  txCount: number;
  failed: number;
  stateRoot: string;
  /** `final` when the node signed it as authority; `proposed` when it waits for outside signatures. */
  status: 'final' | 'proposed';
}

/**
 * Executes the next round of one subtree and commits it in ONE database transaction guarded by
 * the lease's fencing token. Where the node is the PoA authority the round is signed and final at
 * once (tree nodes, values, header + signature, receipts, tx outcomes, head, outbox events). Where
 * the authority is someone else, the round is stored as a proposal that becomes final when the
 * authority's signature arrives (POST …/rounds/:height/signatures); one open proposal at a time.
 * Returns null when there is nothing to do. A crash before COMMIT leaves no trace.
 */
export async function runRound(ctx: NodeContext, subtreeId: string, lease: LeaseClaim): Promise<RoundReport | null> {
  const facts = await ctx.subtrees.get(subtreeId);
  const row = await getSubtree(ctx.db, subtreeId);
  if (!facts || !row || row.status !== 'active') return null;
  if (facts.mode.type !== 'poa') return null; // multisig and pos rounds arrive with their issue
  const selfSigned = facts.mode.authority === ctx.signer.publicKey;
  if (!selfSigned && (await getOpenProposal(ctx.db, subtreeId))) return null;

  const pending = await pendingTxs(ctx.db, subtreeId, ctx.config.maxRoundTxs);
  if (pending.length === 0) return null;
  const prevRound = await getRound(ctx.db, subtreeId, row.height);
  if (!prevRound) throw new Error(`subtree ${subtreeId} has no round at its head height ${row.height}`);
  const prev: RoundHeader = parseRoundHeader(prevRound.header);

  const txs: IdentifiedTx[] = pending.map((p) => ({ id: p.id, tx: p.envelope.tx }));
  const step = await executeAndCommitRound({
    tree: ctx.tree,
    values: ctx.store,
    prevRoot: fromHex(row.root, 32),
    program: facts.program,
    config: facts.config,
    txs,
    hash: ctx.hash,
  });
  const now = ctx.now();
  const header = nextHeader(
    prev,
    {
      stateRoot: toHex(step.stateRoot),
      txRoot: toHex(step.txRoot),
      receiptsRoot: toHex(step.receiptsRoot),
      txCount: txs.length,
      proposer: ctx.signer.publicKey,
      time: now,
    },
    ctx.hash,
  );
  const hash = toHex(roundHash(header, ctx.hash));
  const common = {
    subtree: subtreeId,
    height: header.height,
    hash,
    header: asJson(header),
    txIds: txs.map((t) => t.id),
    receipts: step.receipts,
    stateRoot: header.stateRoot,
    nodes: step.nodes,
    values: step.values,
    lease,
    now,
  };
  if (selfSigned) {
    const sig = toHex(await ctx.signer.sign(fromHex(hash, 32)));
    await commitRound(ctx.db, { ...common, signatures: [{ signer: ctx.signer.publicKey, sig }], events: roundEvents(header, hash, step.receipts) });
  } else {
    await insertProposal(ctx.db, { ...common, signatures: [] });
  }
  ctx.store.remember(step.nodes, step.values);
  return {
    subtree: subtreeId,
    height: header.height,
    hash,
    txCount: txs.length,
    failed: step.receipts.filter((r) => r.status === 'failed').length,
    stateRoot: header.stateRoot,
    status: selfSigned ? 'final' : 'proposed',
  };
}
