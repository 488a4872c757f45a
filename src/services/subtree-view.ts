import type { JsonValue } from '../core/jcs.ts';
import type { Subtree } from '../store/index.ts';

/**
 * The public view of a subtree (SPEC §11 "subtree head"): its creation facts, where its log and
 * its latest final round stand, and the signed creation request so anyone can re-verify who
 * created it and under which rules.
 */
export interface SubtreeHead {
  id: string;
  owner: string;
  name: string;
  parent: string;
  program: string;
  config: JsonValue;
  mode: JsonValue;
  /** A followed subtree (SPEC §12) shows its follow's status instead. */
  status: 'active' | 'halted' | 'syncing' | 'following';
  /** Latest final round. */
  height: number;
  /** State root after round `height`. */
  root: string;
  /** Hash of round `height` (what its signatures sign). */
  headHash: string;
  /** Number of accepted transactions (the next `seq`). */
  logSize: number;
  createdAt: number;
  /** The signed creation body `{ subtree, sigs }` as committed. */
  request: JsonValue;
  /** Multisig only, present when true: the signers in force break SPEC §5's `2t − n` rule. */
  unsafeThreshold?: true;
  /** Followed subtrees: the hosting node's base URL and how its rounds are checked here. */
  origin?: string;
  verify?: 'full' | 'headers';
}

/** A list entry: the head without the creation request, which may carry a large genesis. */
export type SubtreeSummary = Omit<SubtreeHead, 'request'>;

export function subtreeSummary(row: Subtree): SubtreeSummary {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    parent: row.parent,
    program: row.program,
    config: row.config,
    mode: row.mode,
    status: row.status,
    height: row.height,
    root: row.root,
    headHash: row.headHash,
    logSize: row.logSize,
    createdAt: row.createdAt,
    ...(row.origin ? { origin: row.origin, verify: row.verify === 'headers' ? 'headers' : 'full' } : {}),
  };
}

export function subtreeHead(row: Subtree): SubtreeHead {
  return { ...subtreeSummary(row), request: row.request };
}
