import { fromHex, toHex } from '../core/hex.ts';
import { parseRoundHeader } from '../core/round.ts';
import { readState } from '../core/state-reader.ts';
import { childKey, SYS_CHILD } from '../core/system-calls.ts';
import { txId, type Tx } from '../core/tx.ts';
import { appendChildHead, nestedHeads } from '../store/child-roots.ts';
import { getRound, getSubtree } from '../store/index.ts';
import type { NodeContext } from './context.ts';

/**
 * Nested subtrees (docs/protocol.md, "Nested subtrees"): a parent's state holds each child's latest
 * final round under `sys/child/<child>`. The node carries a child's head into the parent as a
 * `sys_child` transaction in the PARENT's log, signed by the node key, so the parent's next round
 * executes it like any transaction and a replay of the parent's log alone reproduces the write.
 *
 * `syncChildRoots` runs at the start of every leader pass: for each nested subtree whose head the
 * parent does not show yet, append one `sys_child` with the child's head as it is at append time —
 * unless one is still pending (heads coalesce: at most one pending per child; the next carries the
 * latest head). So the parent reflects a child's final round after the parent's next round that
 * follows the next leader pass.
 */

interface Memo {
  /** Subtree → host key (round 0's proposer). Creation facts: never change. */
  hosts: Map<string, string>;
  /** Child → head height the parent's state is known to show (skip the state read until it moves). */
  shown: Map<string, number>;
}

const memos = new WeakMap<NodeContext, Memo>();

function memo(ctx: NodeContext): Memo {
  let m = memos.get(ctx);
  if (!m) memos.set(ctx, (m = { hosts: new Map(), shown: new Map() }));
  return m;
}

/**
 * The subtree's host key: the proposer of its genesis round, the only sender of node calls. The
 * leader, replay and co-signers all take it from round 0, so they execute `sys_*` identically.
 */
export async function hostKey(ctx: NodeContext, subtree: string): Promise<string | undefined> {
  const m = memo(ctx);
  const hit = m.hosts.get(subtree);
  if (hit !== undefined) return hit;
  const r0 = await getRound(ctx.db, subtree, 0);
  if (!r0) return undefined;
  const host = parseRoundHeader(r0.header).proposer;
  if (m.hosts.size >= 10_000) m.hosts.delete(m.hosts.keys().next().value!);
  m.hosts.set(subtree, host);
  return host;
}

export interface SyncReport {
  /** `sys_child` transactions appended (child ids). */
  appended: string[];
}

/** Appends the `sys_child` calls parents need now; see the module comment. Never throws for one child. */
export async function syncChildRoots(ctx: NodeContext): Promise<SyncReport> {
  const m = memo(ctx);
  const me = ctx.signer.publicKey;
  const report: SyncReport = { appended: [] };
  let heads;
  try {
    heads = await nestedHeads(ctx.db);
  } catch (err) {
    // Never stall the pass's rounds over this; the next pass looks again.
    ctx.log.error('child root sync: cannot list nested subtrees', { error: String(err) });
    return report;
  }
  for (const head of heads) {
    if ((m.shown.get(head.child) ?? -1) >= head.height) continue;
    try {
      const parent = await getSubtree(ctx.db, head.parent);
      if (!parent) continue;
      // Only a node whose key hosts the parent can write there (the executor refuses others).
      if ((await hostKey(ctx, head.parent)) !== me) continue;
      const key = childKey(head.child);
      const state = await readState(ctx.tree, ctx.store, fromHex(parent.root, 32), [key], ctx.hash);
      const shown = (state.get(key) as { height?: unknown } | undefined)?.height;
      if (typeof shown === 'number' && shown >= head.height) {
        m.shown.set(head.child, shown);
        continue;
      }
      const r = await appendChildHead(ctx.db, {
        seen: head,
        sender: me,
        now: ctx.now(),
        makeTx: async (nonce, h) => {
          const tx: Tx = {
            v: 1,
            network: ctx.config.network,
            subtree: h.parent,
            sender: me,
            nonce,
            call: SYS_CHILD,
            args: { child: h.child, root: h.root, height: h.height, round: h.round },
          };
          const id = txId(tx, ctx.hash);
          const sig = toHex(await ctx.signer.sign(id));
          return { id: toHex(id), subtree: h.parent, sender: me, nonce, envelope: { tx, sig } };
        },
      });
      if (r.status === 'appended' && r.result.status === 'accepted') report.appended.push(head.child);
    } catch (err) {
      // One child must not stall the others (or the pass): it is retried next pass.
      ctx.log.error('child root sync failed', { child: head.child, parent: head.parent, error: String(err) });
    }
  }
  return report;
}
