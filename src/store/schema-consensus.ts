import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { JsonValue } from '../core/jcs.ts';

/**
 * Tables of the co-signed modes (multisig, pos) and of the co-signer's replica. The node's own
 * consensus state (who signs now) is NOT here: it lives in each subtree's state tree under
 * `sys/consensus` so that replay and proofs cover it. These tables hold what is about the node's
 * operation rather than the subtree's state.
 */

export interface HaltSignature {
  signer: string;
  sig: string;
}

/**
 * Halts of multisig subtrees (3 consecutive expired proposals), one row per halt. `seq` is the
 * 1-based number of the halt within its subtree, signed in the resume object so a resume
 * signature lifts exactly one halt. `resumed_at` is null while the halt lasts.
 */
export const halts = sqliteTable(
  'halts',
  {
    subtree: text('subtree').notNull(),
    seq: integer('seq').notNull(),
    /** The subtree's latest final round when it halted. */
    height: integer('height').notNull(),
    haltedAt: integer('halted_at').notNull(),
    resumedAt: integer('resumed_at'),
    /** Verified resume signatures collected so far. */
    signatures: text('signatures', { mode: 'json' }).$type<HaltSignature[]>().notNull(),
    /** The multisig equivocation evidence that caused this halt (null: consecutive expiries). */
    evidence: text('evidence'),
  },
  (t) => [primaryKey({ columns: [t.subtree, t.seq] })],
);

/**
 * Accepted equivocation evidence (pos). One row per (subtree, validator): a validator is slashed
 * once; `id` is the evidence id (digest "evidence"), `tx` the slash transaction appended for it.
 */
export const evidence = sqliteTable(
  'evidence',
  {
    id: text('id').primaryKey(),
    subtree: text('subtree').notNull(),
    validator: text('validator').notNull(),
    height: integer('height').notNull(),
    body: text('body', { mode: 'json' }).$type<JsonValue>().notNull(),
    tx: text('tx').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('evidence_subtree_validator').on(t.subtree, t.validator)],
);

/**
 * A co-signer's replica of one followed subtree (used by `dstp cosign` in its own database file):
 * the latest round it verified and executed, and the next log position it expects.
 */
export const replicaHeads = sqliteTable('replica_heads', {
  subtree: text('subtree').primaryKey(),
  height: integer('height').notNull(),
  root: text('root').notNull(),
  headHash: text('head_hash').notNull(),
  header: text('header', { mode: 'json' }).$type<JsonValue>().notNull(),
  nextSeq: integer('next_seq').notNull(),
  /** The verified creation request the replica was built from. */
  request: text('request', { mode: 'json' }).$type<JsonValue>().notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Round hashes a co-signer has signed, written BEFORE the signature leaves the process: a restart
 * can never lead it to sign a second, different header at a height where that would equivocate.
 */
export const replicaSigned = sqliteTable(
  'replica_signed',
  {
    subtree: text('subtree').notNull(),
    height: integer('height').notNull(),
    hash: text('hash').notNull(),
    signedAt: integer('signed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.subtree, t.height, t.hash] }), index('replica_signed_height').on(t.subtree, t.height)],
);

/**
 * Expiry votes for multisig proposals (SPEC §5): `sig` is `signer`'s signature over
 * `digest("expire", {v: 1, network, subtree, height, round})`, verified before it is stored. A
 * proposal expires only when `threshold` distinct current signers voted for it (a certificate).
 */
export const expiryVotes = sqliteTable(
  'expiry_votes',
  {
    subtree: text('subtree').notNull(),
    height: integer('height').notNull(),
    round: text('round').notNull(),
    signer: text('signer').notNull(),
    sig: text('sig').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.round, t.signer] }), index('expiry_votes_height').on(t.subtree, t.height)],
);

/**
 * Accepted multisig equivocation evidence (SPEC §5): one signer signed two headers at one height,
 * or a header and an expiry vote for it. It halts the subtree (`halts.evidence` names it) until a
 * resume that names it.
 */
export const multisigEvidence = sqliteTable(
  'multisig_evidence',
  {
    id: text('id').primaryKey(),
    subtree: text('subtree').notNull(),
    signer: text('signer').notNull(),
    height: integer('height').notNull(),
    body: text('body', { mode: 'json' }).$type<JsonValue>().notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('multisig_evidence_subtree').on(t.subtree, t.signer)],
);

/**
 * A co-signer's first sighting of each proposal, written before it acts on the proposal (SPEC §5:
 * the expiry timeout runs from the signer's own first sighting, kept durably), and its expiry
 * vote, written BEFORE the vote leaves the process: once voted, it never signs that proposal.
 */
export const replicaSeen = sqliteTable(
  'replica_seen',
  {
    subtree: text('subtree').notNull(),
    height: integer('height').notNull(),
    hash: text('hash').notNull(),
    firstSeen: integer('first_seen').notNull(),
    /** Set when this co-signer voted to expire the proposal (the vote's signature). */
    expirySig: text('expiry_sig'),
    votedAt: integer('voted_at'),
  },
  (t) => [primaryKey({ columns: [t.subtree, t.hash] }), index('replica_seen_height').on(t.subtree, t.height)],
);

/**
 * A co-signer that saw two final headers at one height stops for good: the halt and both signed
 * rounds are kept here as portable evidence, and a restart refuses to continue.
 */
export const replicaHalts = sqliteTable('replica_halts', {
  subtree: text('subtree').primaryKey(),
  height: integer('height').notNull(),
  code: text('code').notNull(),
  detail: text('detail').notNull(),
  evidence: text('evidence', { mode: 'json' }).$type<JsonValue>().notNull(),
  createdAt: integer('created_at').notNull(),
});
