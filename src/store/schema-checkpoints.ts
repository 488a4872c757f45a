import { sql } from 'drizzle-orm';
import { blob, check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { JsonValue } from '../core/jcs.ts';

/**
 * Tables of the layered tree (SPEC §9): signed checkpoints forming an RFC 6962 log, the global
 * tree entries each checkpoint took, their OpenTimestamps anchors, and the child heads a parent
 * round folded into its state (nested subtrees).
 */

/** One row per checkpoint = one leaf of the checkpoint log (leaf `seq` is `jcs(body)`). */
export const checkpoints = sqliteTable(
  'checkpoints',
  {
    seq: integer('seq').primaryKey(),
    /** `digest("checkpoint", body)`, hex. */
    hash: text('hash').notNull(),
    /** The checkpoint JSON `{v, network, seq, globalRoot, prev, time}`. */
    body: text('body', { mode: 'json' }).$type<JsonValue>().notNull(),
    /** The node key's signature over `hash` (hex) and that key. */
    sig: text('sig').notNull(),
    signer: text('signer').notNull(),
    globalRoot: text('global_root').notNull(),
    /** RFC 6962 leaf hash `H(0x00 || jcs(body))`, hex: proofs are built from these. */
    leafHash: text('leaf_hash').notNull(),
    /** Log root at size `seq + 1`, hex. */
    logRoot: text('log_root').notNull(),
    /** The C2SP signed note (tlog-checkpoint) for log size `seq + 1`. */
    note: text('note').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('checkpoints_hash').on(t.hash)],
);

/**
 * Global tree entries that changed at checkpoint `seq` (only the changed ones): the global tree at
 * `seq` maps each subtree to its entry with the greatest `seq' <= seq`.
 */
export const checkpointEntries = sqliteTable(
  'checkpoint_entries',
  {
    subtree: text('subtree').notNull(),
    seq: integer('seq').notNull(),
    height: integer('height').notNull(),
    root: text('root').notNull(),
    /** Hash of the final round `height`. */
    round: text('round').notNull(),
    /** `headers` for a light follow's head (the entry is marked so in the global tree, SPEC §12); null otherwise. */
    verify: text('verify', { enum: ['headers'] }),
  },
  (t) => [primaryKey({ columns: [t.subtree, t.seq] }), index('checkpoint_entries_seq').on(t.seq)],
);

export const ANCHOR_STATUSES = ['pending', 'confirmed'] as const;
export type AnchorStatus = (typeof ANCHOR_STATUSES)[number];

/** OpenTimestamps anchor of the log root at size `seq + 1`. */
export const anchors = sqliteTable(
  'anchors',
  {
    seq: integer('seq').primaryKey(),
    /** The 32-byte digest timestamped (the log root), hex. */
    digest: text('digest').notNull(),
    status: text('status', { enum: ANCHOR_STATUSES }).notNull().default('pending'),
    /** Serialized OpenTimestamps timestamp tree over `digest` (no file header); null until a calendar answered. */
    proof: blob('proof', { mode: 'buffer' }),
    /** Calendars that have not accepted the digest yet. */
    unsubmitted: text('unsubmitted', { mode: 'json' }).$type<string[]>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** Earliest time (ms) of the next submission or upgrade attempt. */
    nextAt: integer('next_at').notNull(),
    lastError: text('last_error'),
    bitcoinHeight: integer('bitcoin_height'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('anchors_due').on(t.status, t.nextAt), check('anchors_status', sql`${t.status} IN ('pending', 'confirmed')`)],
);
