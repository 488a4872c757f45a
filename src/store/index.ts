/**
 * The store: the only place that speaks SQL. Runtime-neutral exports; open a local file with
 * `openDatabase` from './db.ts' (Bun, Node, Deno), or wrap a Workers client with
 * `openDatabaseWithClient` from here.
 */
export * from './database.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './group-commit.ts';
export * from './lease.ts';
export * from './migrate.ts';
export * from './node-store.ts';
export * from './cached-node-store.ts';
export * from './proposals.ts';
export * from './rounds.ts';
export * from './schema.ts';
export * from './subtrees.ts';
export * from './tx-log.ts';
export * from './follows.ts';
export * from './programs.ts';
