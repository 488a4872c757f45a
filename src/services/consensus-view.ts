import type { Mode } from '../core/consensus/mode.ts';
import { loadEffectiveMode } from '../core/consensus/system.ts';
import { fromHex } from '../core/hex.ts';
import type { NodeContext } from './context.ts';
import { headersOnly } from './get-subtree.ts';
import type { SubtreeFacts } from './subtree-cache.ts';

/**
 * Who signs round `height` of a subtree: the creation mode for PoA; for multisig and pos the
 * consensus state stored in the subtree's state after round `height - 1` (`root`), materialized
 * at `height` (pos epochs). The leader, the signature endpoint, resume and evidence all ask here,
 * and co-signers compute the same from their replicas with the same core function.
 */
export async function modeAt(ctx: NodeContext, facts: SubtreeFacts, height: number, root: string): Promise<Mode> {
  // A light follow holds no state to read `sys/consensus` from (its sync loop proves it from the origin).
  if (facts.verify === 'headers') throw headersOnly(facts.id, facts.origin);
  return loadEffectiveMode({
    tree: ctx.tree,
    values: ctx.store,
    root: fromHex(root, 32),
    creationMode: facts.mode,
    height,
    hash: ctx.hash,
  });
}
