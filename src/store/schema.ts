import { sql } from 'drizzle-orm';
import { blob, check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { JsonValue } from '../core/jcs.ts';

/**
 * The node's tables (lead notes, "Data model"). Hashes and ids are lowercase hex text where people
 * read them (API, logs); values are content-addressed by raw 32-byte blobs, which halves their key
 * size, and tree nodes are numbered (smt_tree).
 *
 * Change a table here, then run `npm run db:generate`: drizzle-kit writes the SQL migration under
 * migrations/ and the embed step copies it into migrations.generated.ts for runtimes without files.
 */

export const SUBTREE_STATUSES = ['active', 'halted'] as const;
export type SubtreeStatus = (typeof SUBTREE_STATUSES)[number];

export const TX_STATUSES = ['pending', 'executed', 'failed'] as const;
export type TxStatus = (typeof TX_STATUSES)[number];

export const ROUND_STATUSES = ['final', 'proposed'] as const;
export type RoundStatus = (typeof ROUND_STATUSES)[number];

export const subtrees = sqliteTable(
  'subtrees',
  {
    id: text('id').primaryKey(),
    parent: text('parent').notNull(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    program: text('program').notNull(),
    config: text('config', { mode: 'json' }).$type<JsonValue>().notNull(),
    mode: text('mode', { mode: 'json' }).$type<JsonValue>().notNull(),
    /** The full signed creation body, kept so anyone can re-verify the subtree's origin. */
    request: text('request', { mode: 'json' }).$type<JsonValue>().notNull(),
    status: text('status', { enum: SUBTREE_STATUSES }).notNull().default('active'),
    /** Latest FINAL round. */
    height: integer('height').notNull(),
    /** State root after `height`. */
    root: text('root').notNull(),
    /** Hash of round `height`. */
    headHash: text('head_hash').notNull(),
    /** Next sequence number of the transaction log (= number of accepted transactions). */
    logSize: integer('log_size').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    /** Followed subtrees (SPEC §12): the hosting node's base URL, and how rounds are checked; null when hosted here. */
    origin: text('origin'),
    verify: text('verify'),
  },
  (t) => [
    index('subtrees_parent_id').on(t.parent, t.id),
    check('subtrees_status', sql`${t.status} IN ('active', 'halted')`),
  ],
);

export const txs = sqliteTable(
  'txs',
  {
    id: text('id').primaryKey(),
    subtree: text('subtree')
      .notNull()
      .references(() => subtrees.id),
    seq: integer('seq').notNull(),
    sender: text('sender').notNull(),
    nonce: integer('nonce').notNull(),
    /** `{tx, sig}` as received (JSON). The acceptance signature is re-created on demand. */
    body: text('body').notNull(),
    acceptedAt: integer('accepted_at').notNull(),
    status: text('status', { enum: TX_STATUSES }).notNull().default('pending'),
    height: integer('height'),
    idx: integer('idx'),
    code: text('code'),
    /** Gas of a user program's transaction (SPEC §7.1); null for native programs. */
    gas: integer('gas'),
  },
  (t) => [
    uniqueIndex('txs_subtree_seq').on(t.subtree, t.seq),
    // Also answers "max nonce of (subtree, sender)" from the index alone.
    uniqueIndex('txs_subtree_sender_nonce').on(t.subtree, t.sender, t.nonce),
    // Partial: holds only the work queue, so pending scans stay small however long the log grows.
    index('txs_pending').on(t.subtree, t.seq).where(sql`status = 'pending'`),
    // No index on (subtree, height, idx): no query reads a round's transactions that way (rounds
    // keep their tx ids), and every accept and execute paid for its upkeep.
    check('txs_status', sql`${t.status} IN ('pending', 'executed', 'failed')`),
  ],
);

export const rounds = sqliteTable(
  'rounds',
  {
    subtree: text('subtree')
      .notNull()
      .references(() => subtrees.id),
    height: integer('height').notNull(),
    hash: text('hash').notNull(),
    header: text('header', { mode: 'json' }).$type<JsonValue>().notNull(),
    signatures: text('signatures', { mode: 'json' }).$type<RoundSignature[]>().notNull(),
    txIds: text('tx_ids', { mode: 'json' }).$type<string[]>().notNull(),
    stateRoot: text('state_root').notNull(),
    status: text('status', { enum: ROUND_STATUSES }).notNull().default('final'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.subtree, t.height] }),
    uniqueIndex('rounds_hash').on(t.hash),
    check('rounds_status', sql`${t.status} IN ('final', 'proposed')`),
  ],
);

export const PROPOSAL_STATUSES = ['open', 'final', 'expired'] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

/**
 * Rounds waiting for signatures the node cannot give itself (PoA with an outside authority; later
 * multisig and pos). A proposal carries everything its finalization needs — header, ordered tx
 * ids, receipts — so finalizing re-executes nothing. At most one open proposal per subtree.
 */
export const proposals = sqliteTable(
  'proposals',
  {
    hash: text('hash').primaryKey(),
    subtree: text('subtree')
      .notNull()
      .references(() => subtrees.id),
    height: integer('height').notNull(),
    header: text('header', { mode: 'json' }).$type<JsonValue>().notNull(),
    txIds: text('tx_ids', { mode: 'json' }).$type<string[]>().notNull(),
    receipts: text('receipts', { mode: 'json' }).$type<JsonValue>().notNull(),
    stateRoot: text('state_root').notNull(),
    signatures: text('signatures', { mode: 'json' }).$type<RoundSignature[]>().notNull(),
    status: text('status', { enum: PROPOSAL_STATUSES }).notNull().default('open'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('proposals_one_open').on(t.subtree).where(sql`status = 'open'`),
    index('proposals_subtree_height').on(t.subtree, t.height),
    check('proposals_status', sql`${t.status} IN ('open', 'final', 'expired')`),
  ],
);

export interface RoundSignature {
  signer: string;
  sig: string;
}

/**
 * Tree nodes of every subtree, numbered in the order they were made (docs/architecture.md,
 * "Storage layout"): a batch's nodes take the next ids, children before parents, so a round appends
 * to the end of this b-tree instead of inserting at random hash positions, and a node is read by the
 * id its parent names. `rec` is the 65-byte hash preimage, for an inner node followed by its left
 * and right children's ids (8 bytes each, big-endian id + 1; 0 for an empty child).
 */
export const smtTree = sqliteTable('smt_tree', {
  id: integer('id').primaryKey(),
  rec: blob('rec', { mode: 'buffer' }).notNull(),
});

/**
 * Where to start reading a stored root: its node's id. One row per distinct root (rounds,
 * proposals, checkpoints, replicas); WITHOUT ROWID in the migration (drizzle has no flag for it).
 */
export const smtRoots = sqliteTable('smt_roots', {
  hash: blob('hash', { mode: 'buffer' }).primaryKey(),
  node: integer('node').notNull(),
});

/** Content-addressed values: hash = H(jcs bytes), json = those bytes as text. */
export const smtValues = sqliteTable('smt_values', {
  hash: blob('hash', { mode: 'buffer' }).primaryKey(),
  json: text('json').notNull(),
});

/** Leader leases. `token` only ever rises: it fences writes of a leader that lost the lease. */
export const lease = sqliteTable('lease', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  token: integer('token').notNull(),
  expiresAt: integer('expires_at').notNull(),
});

/** Outbox for webhooks: written in the same transaction as the round or subtree it reports. */
export const events = sqliteTable(
  'events',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    type: text('type').notNull(),
    subtree: text('subtree'),
    data: text('data', { mode: 'json' }).$type<JsonValue>().notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('events_subtree_seq').on(t.subtree, t.seq)],
);
export * from './schema-checkpoints.ts';
export * from './schema-webhooks.ts';
export * from './schema-consensus.ts';
export * from './schema-follows.ts';
export * from './schema-programs.ts';
