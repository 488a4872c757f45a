import type { Client, InStatement, ResultSet, Transaction } from '@libsql/client';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import { drizzle } from 'drizzle-orm/libsql/web';
import { applyMigrations } from './migrate.ts';
import * as schema from './schema.ts';

/**
 * Runtime-neutral database handle: no file system, no native driver import, so Workers can build
 * one from `@libsql/client/web` (see `openDatabaseWithClient`). `db.ts` opens local files on Bun,
 * Node and Deno.
 *
 * Why writes are serialized here: the local driver is synchronous, so a busy wait on one connection
 * blocks the whole thread, including the code that would release the lock it waits for. Two write
 * transactions of one process on two connections therefore stall until `busy_timeout` and fail.
 * Every write of a `Database` goes through one queue on one connection instead; other processes
 * are held off by SQLite's lock (BEGIN IMMEDIATE + busy_timeout).
 */

/** What a repository function needs to run SQL: a client, a transaction, or the read path. */
export interface Executor {
  execute(stmt: InStatement): Promise<ResultSet>;
  batch(stmts: InStatement[]): Promise<ResultSet[]>;
}

export type Orm = LibSQLDatabase<typeof schema>;

export type Synchronous = 'FULL' | 'NORMAL';

export interface ConnectionSettings {
  /** `synchronous` for local files. FULL (default) syncs the WAL on every commit: an accepted
   * transaction survives power loss. NORMAL is only for benchmarks and throwaway nodes. */
  synchronous?: Synchronous;
  /** How long a local connection waits for another process's lock before failing. */
  busyTimeoutMs?: number;
}

/** Settings read back from a connection after they were set. */
export interface PragmaReadback {
  journalMode: string;
  synchronous: number;
  /** macOS: F_FULLFSYNC instead of fsync (which there does not flush the drive's cache). */
  fullfsync: number;
  foreignKeys: number;
  busyTimeout: number;
  queryOnly: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const SYNCHRONOUS_CODE: Record<Synchronous, number> = { NORMAL: 1, FULL: 2 };

export class Database {
  /** Reads outside any write transaction. `batch` runs in one read transaction (a consistent snapshot). */
  readonly read: Executor;
  /** Typed query builder on the read path. */
  readonly orm: Orm;
  readonly local: boolean;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private committed = 0;

  /** @internal use `openDatabase` / `openDatabaseWithClient` */
  constructor(
    private readonly writer: Client,
    private readonly reader: Client | null,
    readonly settings: { writer: PragmaReadback | null; reader: PragmaReadback | null },
  ) {
    this.local = writer.protocol === 'file';
    if (reader) this.read = reader;
    else if (this.local) {
      // One local client for everything: queue reads behind writes so the pool never needs a
      // second connection (which would start without our pragmas).
      this.read = {
        execute: (stmt) => this.exclusive(() => writer.execute(stmt)),
        batch: (stmts) => this.exclusive(() => writer.batch(stmts, 'deferred')),
      };
    } else this.read = writer; // remote: every request is its own stream; nothing to share
    this.orm = ormOver(this.read);
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE), after every earlier write of this
   * Database has finished. Commits when `fn` resolves; rolls back and rethrows when it throws.
   * The promise resolves only after COMMIT returned, i.e. after the data is durable.
   */
  write<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const tx = await this.writer.transaction('write');
      try {
        const result = await fn(tx);
        await tx.commit();
        this.committed++;
        return result;
      } catch (err) {
        await rollbackQuietly(tx);
        throw err;
      } finally {
        tx.close();
      }
    });
  }

  /**
   * Write transactions committed through this handle so far. Writes are serialized, so inside
   * `write` the transaction running will be number `commits + 1`; an unchanged count later means
   * this process has written nothing since.
   */
  get commits(): number {
    return this.committed;
  }

  /** Typed query builder over any executor, e.g. the `tx` inside `write`. */
  ormFor(ex: Executor): Orm {
    return ex === this.read ? this.orm : ormOver(ex);
  }

  /** Waits for queued writes, then closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => undefined);
    this.writer.close();
    this.reader?.close();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('database is closed'));
    const run = this.tail.then(fn, fn);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function ormOver(ex: Executor): Orm {
  // drizzle only calls execute/batch on its client, which every Executor has.
  return drizzle({ client: ex as Client, schema });
}

async function rollbackQuietly(tx: Transaction): Promise<void> {
  try {
    await tx.rollback();
  } catch {
    // The transaction is gone already (connection lost, or SQLite rolled it back itself).
  }
}

export interface OpenWithClientOptions extends ConnectionSettings {
  /** A second local client used only for reads (WAL readers never wait for the writer). */
  reader?: Client;
  /** Skip applying migrations (tests of the migrator itself). */
  migrate?: boolean;
  /**
   * The client is an embedded replica: its local file belongs to libSQL's replicator and its
   * writes go to the primary, whose own settings make them durable. Such a client refuses any
   * PRAGMA with an argument (Sqlite3UnsupportedStatement) and would forward the bare ones to the
   * primary, so no local pragmas are set or read back.
   */
  replica?: boolean;
}

/**
 * Builds a Database over clients the caller created: `@libsql/client/web` on Workers, or any client
 * in tests. Local (`file:`) clients get their pragmas set and checked here; the caller must have
 * created them with `concurrency: 1`, so the settings cannot miss a pooled connection. Applies
 * pending migrations unless `migrate: false`.
 */
export async function openDatabaseWithClient(client: Client, opts: OpenWithClientOptions = {}): Promise<Database> {
  const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const writer = client.protocol === 'file' && !opts.replica ? await configureLocal(client, { ...opts, busyTimeoutMs: busy }, 'writer') : null;
  const reader = opts.reader ? await configureLocal(opts.reader, { busyTimeoutMs: busy }, 'reader') : null;
  const db = new Database(client, opts.reader ?? null, { writer, reader });
  if (opts.migrate !== false) await applyMigrations(db);
  return db;
}

/**
 * Sets the connection's pragmas, then reads them back through the same client and refuses to go
 * on if any did not take. journal_mode=WAL is stored in the file; the others live on the
 * connection only, which is why each client here must own exactly one connection.
 */
async function configureLocal(
  client: Client,
  opts: ConnectionSettings,
  role: 'writer' | 'reader',
): Promise<PragmaReadback> {
  const synchronous = opts.synchronous ?? 'FULL';
  const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let journalMode = 'wal';
  if (role === 'writer') {
    journalMode = String((await client.execute('PRAGMA journal_mode = WAL')).rows[0]?.[0]).toLowerCase();
    // An in-memory database (tests) stays in 'memory' mode; anything else must be WAL.
    if (journalMode !== 'wal' && journalMode !== 'memory') {
      throw new Error(`could not switch the database to WAL (journal_mode is ${journalMode})`);
    }
  }
  await client.execute(`PRAGMA busy_timeout = ${Math.trunc(busy)}`);
  await client.execute(`PRAGMA synchronous = ${synchronous}`);
  // No effect on Linux; on macOS plain fsync leaves data in the drive cache, so FULL would not be durable.
  await client.execute(`PRAGMA fullfsync = ${synchronous === 'FULL' ? 'ON' : 'OFF'}`);
  await client.execute('PRAGMA foreign_keys = ON');
  // A reader that could write would bypass the write queue and its lock discipline.
  await client.execute(`PRAGMA query_only = ${role === 'reader' ? 'ON' : 'OFF'}`);
  const got = await readPragmas(client);
  const want: Partial<PragmaReadback> = {
    journalMode: role === 'writer' ? journalMode : 'wal',
    synchronous: SYNCHRONOUS_CODE[synchronous],
    fullfsync: synchronous === 'FULL' ? 1 : 0,
    foreignKeys: 1,
    busyTimeout: busy,
    queryOnly: role === 'reader' ? 1 : 0,
  };
  for (const [k, v] of Object.entries(want)) {
    if (got[k as keyof PragmaReadback] !== v) {
      throw new Error(`${role} connection: PRAGMA ${k} is ${String(got[k as keyof PragmaReadback])}, expected ${String(v)}`);
    }
  }
  return got;
}

/** Reads the settings in force on whichever connection `ex` uses for this call. */
export async function readPragmas(ex: Executor): Promise<PragmaReadback> {
  const rs = await ex.batch([
    'PRAGMA journal_mode',
    'PRAGMA synchronous',
    'PRAGMA fullfsync',
    'PRAGMA foreign_keys',
    'PRAGMA busy_timeout',
    'PRAGMA query_only',
  ]);
  const v = (i: number) => rs[i]?.rows[0]?.[0];
  return {
    journalMode: String(v(0)).toLowerCase(),
    synchronous: Number(v(1)),
    fullfsync: Number(v(2)),
    foreignKeys: Number(v(3)),
    busyTimeout: Number(v(4)),
    queryOnly: Number(v(5)),
  };
}
