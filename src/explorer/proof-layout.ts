import type { ProofWalk } from 'dstp/client';

/**
 * How a state proof is drawn: from the leaf up to the root, one row per level, the path's node
 * on the side its bit of path(key) puts it and the sibling on the other (SPEC §4: bit 0 = left).
 * Pure, so it is unit-tested; the page only turns rows into boxes.
 */
export interface Cell {
  hash: string;
  /** `path`: on the key's path (computed here); `sibling`: from the proof; `empty`: an empty subtree (32 zero bytes). */
  role: 'path' | 'sibling' | 'empty';
}

export interface ProofRow {
  /** Depth of the parent this row computes; the root is depth 0. */
  depth: number;
  left: Cell;
  right: Cell;
  /** inner(left, right): the path's node one level up. */
  parent: string;
}

export interface ProofLayout {
  path: string;
  leaf: { hash: string; depth: number; empty: boolean };
  /** Leaf first, root last. */
  rows: ProofRow[];
  root: { computed: string; claimed: string; matches: boolean };
}

const EMPTY = '0'.repeat(64);

export function layoutProof(walk: ProofWalk, claimedRoot: string): ProofLayout {
  const rows = walk.steps.map((s): ProofRow => {
    const mine: Cell = { hash: s.node, role: 'path' };
    const other: Cell = { hash: s.sibling, role: s.sibling === EMPTY ? 'empty' : 'sibling' };
    return { depth: s.depth, left: s.bit ? other : mine, right: s.bit ? mine : other, parent: s.hash };
  });
  return {
    path: walk.path,
    leaf: { hash: walk.leafHash, depth: walk.depth, empty: walk.leafHash === EMPTY },
    rows,
    root: { computed: walk.computedRoot, claimed: claimedRoot, matches: walk.computedRoot === claimedRoot },
  };
}
