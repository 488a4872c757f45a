import type { Database } from './database.ts';

/**
 * Hot reads of a local database file through the bare `libsql` driver with cached prepared
 * statements. Measured on Bun 1.4.5: a one-row primary-key SELECT costs ~56 µs of CPU through
 * `@libsql/client` (it prepares the statement and describes its columns on every call) and ~5 µs
 * as a cached prepared statement — for a state read that was a third of the whole request.
 *
 * The connection is read-only (query_only) and separate from the writer, exactly like the
 * client's reader: each statement reads the latest committed snapshot (WAL). Only used for
 * single-statement reads; multi-statement snapshots still go through `db.read.batch`.
 * Where the driver cannot load (Workers, Deno without the addon) nothing is attached and callers
 * use `db.read`.
 */
export interface PreparedReads {
  /** Rows as arrays; statements are prepared once per SQL text (a bounded number are kept). */
  all(sql: string, args: readonly unknown[]): unknown[][];
  get(sql: string, args: readonly unknown[]): unknown[] | undefined;
  close(): void;
}

interface BareStatement {
  raw(on?: boolean): BareStatement;
  get(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown[];
}
interface BareDatabase {
  prepare(sql: string): BareStatement;
  exec(sql: string): unknown;
  close(): void;
}
type BareDatabaseCtor = new (path: string, opts?: { readonly?: boolean; timeout?: number }) => BareDatabase;

const attached = new WeakMap<Database, PreparedReads>();

/** The prepared-read connection of `db`, if one was attached. */
export function preparedReads(db: Database): PreparedReads | undefined {
  return attached.get(db);
}

/** Most distinct SQL texts kept prepared (IN lists of different lengths are different texts). */
const MAX_STATEMENTS = 256;

/**
 * Opens a read-only bare connection to the database file at `path` and attaches it to `db`
 * (closed together with it). Returns false, attaching nothing, where the driver is unavailable.
 */
export async function attachPreparedReads(db: Database, path: string, busyTimeoutMs: number): Promise<boolean> {
  let Ctor: BareDatabaseCtor;
  try {
    const mod = (await import('libsql')) as unknown as { default?: BareDatabaseCtor };
    if (typeof mod.default !== 'function') return false;
    Ctor = mod.default;
  } catch {
    return false;
  }
  let conn: BareDatabase;
  try {
    conn = new Ctor(path, { timeout: busyTimeoutMs });
    conn.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    // Like the client's reader: it can never bypass the write queue.
    conn.exec('PRAGMA query_only = ON');
  } catch {
    return false;
  }
  const statements = new Map<string, BareStatement>();
  const statement = (sql: string): BareStatement => {
    let st = statements.get(sql);
    if (st === undefined) {
      if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value!);
      st = conn.prepare(sql).raw(true);
      statements.set(sql, st);
    }
    return st;
  };
  let open = true;
  const reads: PreparedReads = {
    // One array argument, as @libsql/client binds: spread, a lone blob would be taken for named parameters.
    all: (sql, args) => statement(sql).all(args) as unknown[][],
    get: (sql, args) => statement(sql).get(args) as unknown[] | undefined,
    close() {
      if (!open) return;
      open = false;
      statements.clear();
      conn.close();
    },
  };
  attached.set(db, reads);
  const close = db.close.bind(db);
  db.close = async () => {
    try {
      await close();
    } finally {
      attached.delete(db);
      reads.close();
    }
  };
  return true;
}
