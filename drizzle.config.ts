import { defineConfig } from 'drizzle-kit';

/**
 * drizzle-kit reads the schema from src/store/schema.ts and writes reviewed SQL migrations to
 * migrations/. The node applies them itself at start (src/store/migrate.ts), from an embedded copy
 * so runtimes without a file system (Workers) can too. `dbCredentials` is only for drizzle-kit's
 * own commands (studio, check) against a local file.
 */
export default defineConfig({
  dialect: 'turso',
  schema: './src/store/schema.ts',
  out: './migrations',
  dbCredentials: { url: process.env.DSTP_DATABASE_URL ?? 'file:./data/dstp.db' },
});
