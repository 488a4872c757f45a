import { chooseProposer } from '../core/consensus/pos.ts';
import { eligibleKeys, missingRequirements, roundSigners } from '../core/consensus/signing-rules.ts';
import { systemCalls } from '../core/consensus/system.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { asJson, type JsonValue } from '../core/jcs.ts';
import { executeAndCommitRound } from '../core/replay.ts';
import { nextHeader, parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import type { IdentifiedTx } from '../core/tx.ts';
import { SandboxedProgram } from '../platform/sandbox/sandboxed-program.ts';
import { hostKey } from '../services/child-roots.ts';
import { modeAt } from '../services/consensus-view.ts';
import type { NodeContext } from '../services/context.ts';
import { mayNodeSignAt } from '../services/expire-proposals.ts';
import { roundEvents } from '../services/round-events.ts';
import { commitRound, getOpenProposal, getRound, getSubtree, insertProposal, pendingTxs, type LeaseClaim } from '../store/index.ts';

export interface RoundReport {
  subtree: string;
  height: number;
  hash: string;
  txCount: number;
  failed: number;
  stateRoot: string;
  /** `final` when the node's own signature completed the mode's rule; `proposed` when it waits for co-signers. */
  status: 'final' | 'proposed';
}

/**
 * Executes the next round of one subtree and commits it in ONE database transaction guarded by
 * the lease's fencing token.
 *
 * Who signs is the mode in force for the round (`modeAt`: the creation mode for PoA, the
 * `sys/consensus` state for multisig and pos). The node adds its own signature when its key is one
 * of those signers; if that alone meets the rule (PoA with the node as authority) the round is
 * final at once (tree nodes, values, header + signature, receipts, tx outcomes, head, outbox
 * events). Otherwise the round is stored as a proposal — header, ordered tx ids, receipts — that
 * becomes final when co-signatures complete the rule (POST …/rounds/:height/signatures). One
 * proposal is open at a time; a multisig proposal expires only by an expiry certificate of its
 * signers (services/expire-proposals.ts), then a fresh one is made from the same pending transactions. In pos the header's
 * proposer is the validator drawn by stake from the previous round's hash.
 * Returns null when there is nothing to do. A crash before COMMIT leaves no trace.
 */
export async function runRound(ctx: NodeContext, subtreeId: string, lease: LeaseClaim): Promise<RoundReport | null> {
  const facts = await ctx.subtrees.get(subtreeId);
  const row = await getSubtree(ctx.db, subtreeId);
  if (!facts || !row || row.status !== 'active') return null;
  // An open proposal waits: it becomes final by co-signatures or expires by an expiry certificate
  // (POST …/expiries), never by the node's clock (SPEC §5).
  if (await getOpenProposal(ctx.db, subtreeId)) return null;

  const pending = await pendingTxs(ctx.db, subtreeId, roundTxLimit(ctx, facts));
  if (pending.length === 0) return null;
  const prevRound = await getRound(ctx.db, subtreeId, row.height);
  if (!prevRound) throw new Error(`subtree ${subtreeId} has no round at its head height ${row.height}`);
  const prev: RoundHeader = parseRoundHeader(prevRound.header);
  const height = row.height + 1;
  const mode = await modeAt(ctx, facts, height, row.root);

  const txs: IdentifiedTx[] = pending.map((p) => ({ id: p.id, tx: p.envelope.tx }));
  // Node calls (`sys_child`) are honoured from the subtree's host key only: round 0's proposer.
  const host = await hostKey(ctx, subtreeId);
  const system = systemCalls(facts.mode, { height, network: prev.network, subtree: subtreeId, hash: ctx.hash, ...(host !== undefined ? { host } : {}) });
  // A user program runs on the program thread where there is one: a round of transactions that
  // run to their gas limit would otherwise hold the serving thread for seconds.
  const offload =
    facts.program instanceof SandboxedProgram && ctx.programThread
      ? ctx.programThread.forRound({
          id: facts.program.id,
          source: facts.program.source,
          config: row.config as JsonValue,
          mode: facts.mode,
          height,
          network: prev.network,
          subtree: subtreeId,
          ...(host !== undefined ? { host } : {}),
        })
      : undefined;
  const step = await executeAndCommitRound({
    tree: ctx.tree,
    values: ctx.store,
    prevRoot: fromHex(row.root, 32),
    program: facts.program,
    config: facts.config,
    txs,
    hash: ctx.hash,
    ...(system ? { system } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(offload ? { offload } : {}),
  });
  const me = ctx.signer.publicKey;
  const proposer = mode.type === 'pos' ? chooseProposer(mode.validators, fromHex(row.headHash, 32), ctx.hash) : me;
  const now = ctx.now();
  const header = nextHeader(
    prev,
    {
      stateRoot: toHex(step.stateRoot),
      txRoot: toHex(step.txRoot),
      receiptsRoot: toHex(step.receiptsRoot),
      txCount: txs.length,
      proposer,
      time: now,
    },
    ctx.hash,
  );
  const hashBytes = roundHash(header, ctx.hash);
  const hash = toHex(hashBytes);
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
  const signers = roundSigners(mode);
  const isSigner = eligibleKeys([signers]).has(me);
  // The node's key obeys the co-signers' rule (SPEC §5): a second header at a height only when
  // every other header it signed there holds a valid expiry certificate.
  if (isSigner && mode.type === 'multisig' && !(await mayNodeSignAt(ctx, subtreeId, height, mode))) {
    ctx.log.error('not signing a second header at this height: an earlier one lacks a valid expiry certificate', { subtree: subtreeId, height });
    return null;
  }
  const signatures = isSigner ? [{ signer: me, sig: toHex(await ctx.signer.sign(hashBytes)) }] : [];
  // The only signature is the node's own, made just now by a signer checked against noble when it
  // was built: counting it without re-verifying saves a pure-JS verify (~1-2 ms) per round.
  const final = signatures.length > 0 && missingRequirements([signers], new Set([me])).length === 0;
  if (final) {
    await commitRound(ctx.db, { ...common, signatures, events: roundEvents(header, hash, step.receipts) });
  } else {
    await insertProposal(ctx.db, { ...common, signatures });
  }
  ctx.store.remember(step.nodes, step.values);
  return {
    subtree: subtreeId,
    height: header.height,
    hash,
    txCount: txs.length,
    failed: step.receipts.filter((r) => r.status === 'failed').length,
    stateRoot: header.stateRoot,
    status: final ? 'final' : 'proposed',
  };
}

/**
 * How many pending transactions one round takes: DSTP_MAX_ROUND_TXS, and for a user program
 * (whose parsed config carries its per-transaction `gasLimit`) no more than DSTP_MAX_ROUND_GAS
 * can pay for at that limit, at least one.
 */
function roundTxLimit(ctx: NodeContext, facts: { programName: string; config: unknown }): number {
  const gasLimit = facts.programName.startsWith('js:') ? (facts.config as { gasLimit?: unknown }).gasLimit : undefined;
  if (typeof gasLimit !== 'number' || gasLimit <= 0) return ctx.config.maxRoundTxs;
  return Math.max(1, Math.min(ctx.config.maxRoundTxs, Math.floor(ctx.config.maxRoundGas / gasLimit)));
}
