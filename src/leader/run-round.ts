import { fromHex, toHex } from '../core/hex.ts';
import { asJson } from '../core/jcs.ts';
import { executeAndCommitRound } from '../core/replay.ts';
import { nextHeader, parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import type { IdentifiedTx } from '../core/tx.ts';
import type { NodeContext } from '../services/context.ts';
import { commitRound, getRound, getSubtree, pendingTxs, type LeaseClaim, type NewEvent } from '../store/index.ts';

export interface RoundReport {
  subtree: string;
  height: number;
  hash: string;
  txCount: number;
  failed: number;
  stateRoot: string;
}

/**
 * Executes the next round of one subtree whose authority is this node, and commits it (tree nodes,
 * values, header + signature, receipts, tx outcomes, head, outbox events) in ONE database
 * transaction guarded by the lease's fencing token. Returns null when there is nothing to do.
 * A crash anywhere before COMMIT leaves no trace: the transactions are still pending.
 */
export async function runRound(ctx: NodeContext, subtreeId: string, lease: LeaseClaim): Promise<RoundReport | null> {
  const facts = await ctx.subtrees.get(subtreeId);
  const row = await getSubtree(ctx.db, subtreeId);
  if (!facts || !row || row.status !== 'active') return null;
  if (facts.mode.type !== 'poa' || facts.mode.authority !== ctx.signer.publicKey) return null;

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
  const sig = toHex(await ctx.signer.sign(fromHex(hash, 32)));
  const events: NewEvent[] = step.receipts.map((r) => ({
    type: r.status === 'ok' ? 'tx.executed' : 'tx.failed',
    subtree: subtreeId,
    data: { subtree: subtreeId, tx: r.tx, height: header.height, index: r.index, ...(r.status === 'failed' ? { code: r.code } : {}) },
  }));
  events.push({
    type: 'round.finalized',
    subtree: subtreeId,
    data: { subtree: subtreeId, height: header.height, hash, stateRoot: header.stateRoot, txCount: header.txCount },
  });

  await commitRound(ctx.db, {
    subtree: subtreeId,
    height: header.height,
    hash,
    header: asJson(header),
    signatures: [{ signer: ctx.signer.publicKey, sig }],
    txIds: txs.map((t) => t.id),
    receipts: step.receipts,
    stateRoot: header.stateRoot,
    nodes: step.nodes,
    values: step.values,
    events,
    lease,
    now,
  });
  ctx.store.remember(step.nodes, step.values);
  return {
    subtree: subtreeId,
    height: header.height,
    hash,
    txCount: txs.length,
    failed: step.receipts.filter((r) => r.status === 'failed').length,
    stateRoot: header.stateRoot,
  };
}
