import type { Client } from '@libsql/client';
import type { Database, Executor } from './database.ts';
import { MIGRATIONS } from './migrations.generated.ts';

/** One drizzle-kit migration, embedded in code by scripts/embed-migrations.ts. */
export interface EmbeddedMigration {
  tag: string;
  /** Journal timestamp; migrations apply in this order and it marks them as applied. */
  when: number;
  /** sha256 of the .sql file text (drizzle's own hash). */
  hash: string;
  statements: string[];
}

/** drizzle's bookkeeping table and layout, so `drizzle-kit migrate` and this agree. */
const TABLE = '__drizzle_migrations';

export class MigrationMismatchError extends Error {
  override readonly name = 'MigrationMismatchError';
}

/**
 * Applies every embedded migration the database has not seen, in journal order, inside ONE write
 * transaction (BEGIN IMMEDIATE): a second process starting at the same moment waits for the lock,
 * then finds nothing left to do. Idempotent. Refuses to start if an applied migration's SQL has
 * changed since (its hash differs): the schema in the file would not be the schema in the code.
 *
 * Returns the tags it applied.
 */
export async function applyMigrations(
  target: Database | Client,
  migrations: readonly EmbeddedMigration[] = MIGRATIONS,
): Promise<string[]> {
  if ('write' in target) return target.write((tx) => applyIn(tx, migrations));
  const tx = await target.transaction('write');
  try {
    const applied = await applyIn(tx, migrations);
    await tx.commit();
    return applied;
  } finally {
    tx.close();
  }
}

async function applyIn(tx: Executor, migrations: readonly EmbeddedMigration[]): Promise<string[]> {
  await tx.execute(
    `CREATE TABLE IF NOT EXISTS "${TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
  );
  // A table rebuild (drizzle's 12-step ALTER) may break foreign keys midway; check them at COMMIT.
  await tx.execute('PRAGMA defer_foreign_keys = ON');
  const rs = await tx.execute(`SELECT hash, created_at FROM "${TABLE}" ORDER BY created_at`);
  const done = new Map<number, string>(rs.rows.map((r) => [Number(r[1]), String(r[0])]));
  const last = Math.max(-Infinity, ...done.keys());

  for (const m of migrations) {
    const seen = done.get(m.when);
    if (seen !== undefined && seen !== m.hash) {
      throw new MigrationMismatchError(
        `migration ${m.tag} was applied with different SQL (hash ${seen}, now ${m.hash}); add a new migration instead of editing an applied one`,
      );
    }
  }
  const pending = migrations.filter((m) => m.when > last);
  for (const m of pending) {
    for (const sql of m.statements) await tx.execute(sql);
    await tx.execute({ sql: `INSERT INTO "${TABLE}" (hash, created_at) VALUES (?, ?)`, args: [m.hash, m.when] });
  }
  return pending.map((m) => m.tag);
}
