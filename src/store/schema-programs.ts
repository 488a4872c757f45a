import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * User programs (SPEC §7.1), content-addressed: `id = hex(digest("program", {engine, source}))`,
 * so a row is never changed, only added.
 */
export const programs = sqliteTable('programs', {
  id: text('id').primaryKey(),
  engine: text('engine').notNull(),
  source: text('source').notNull(),
  createdAt: integer('created_at').notNull(),
});
