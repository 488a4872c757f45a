/**
 * The proof object of SPEC §4, exactly as it travels in JSON. Bytes are lowercase hex (SPEC §1).
 * `siblings[0]` is the deepest sibling; the leaf (or empty slot) sits at depth `siblings.length`.
 */
export interface ProofLeaf {
  path: string;
  valueHash: string;
}

export interface Proof {
  key: string;
  root: string;
  /** The leaf found where `key`'s path ends: its own (inclusion), another one or `null` (exclusion). */
  leaf: ProofLeaf | null;
  siblings: string[];
}

