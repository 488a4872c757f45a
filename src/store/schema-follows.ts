import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { JsonValue } from '../core/jcs.ts';

export const FOLLOW_STATUSES = ['syncing', 'following', 'halted'] as const;
export type FollowStatus = (typeof FOLLOW_STATUSES)[number];
export const FOLLOW_VERIFY = ['full', 'headers'] as const;
export type FollowVerify = (typeof FOLLOW_VERIFY)[number];

/**
 * Subtrees this node follows (SPEC §12). The replica itself lives in the ordinary tables (the
 * subtree row, marked with `origin`, its rounds, log and tree nodes) up to the last verified round;
 * this row holds what is about following: where from, the origin's pinned node key, how far the
 * origin is, and a halt with its evidence.
 */
export const follows = sqliteTable('follows', {
  subtree: text('subtree').primaryKey(),
  origin: text('origin').notNull(),
  verify: text('verify', { enum: FOLLOW_VERIFY }).notNull(),
  status: text('status', { enum: FOLLOW_STATUSES }).notNull(),
  /** The origin's node key from its /v1/info when the follow began: forwarded acceptances must verify against it. */
  originKey: text('origin_key').notNull(),
  /** Latest round of the origin seen (its head), for `originHeight`. */
  originHeight: integer('origin_height').notNull().default(0),
  /** First round this replica verified fully (0 = from genesis). */
  verifiedFrom: integer('verified_from').notNull().default(0),
  /** `{code, detail, evidence}` once halted. */
  halt: text('halt', { mode: 'json' }).$type<JsonValue>(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
