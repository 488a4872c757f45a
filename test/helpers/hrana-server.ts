/**
 * A libSQL remote server for tests: the Hrana protocol over HTTP (JSON pipelines, versions 2 and 3)
 * that `@libsql/client/web` and `@libsql/client` speak to `http://` / `libsql://` URLs, served on
 * 127.0.0.1 over a local libSQL file. No sqld or Turso can be reached from this machine, and
 * `turso --sync-server` lacks batons and `store_sql`, so the remote code paths of the node
 * (Workers above all) are tested against this.
 *
 * Semantics kept from sqld:
 * - a request without a baton opens a stream; every response carries a fresh baton for the next
 *   request of that stream, and an old, unknown or reused baton is refused (HTTP 400);
 * - each stream owns one SQLite connection for its whole life, so an interactive transaction
 *   (BEGIN … COMMIT across several HTTP requests) stays on its connection;
 * - a stream left idle longer than `streamTtlMs` is closed, rolling back an open transaction;
 * - requests: execute, batch (conditions ok/error/not/and/or/is_autocommit), sequence, describe,
 *   store_sql, close_sql, get_autocommit, close. Not served: cursors (v3 only, protobuf) and the
 *   protobuf encoding — `GET /v3-protobuf` answers 404, so clients fall back to JSON.
 *
 * Why lock waits are asynchronous here: the libSQL driver is synchronous, so a connection waiting
 * in `busy_timeout` would freeze this whole server, including the request that would COMMIT and
 * free the lock. Connections therefore have busy_timeout 0, and a statement that meets SQLITE_BUSY
 * is retried after a short await (up to `busyTimeoutMs`), letting other streams move meanwhile.
 *
 * Run standalone: `bun test/helpers/hrana-server.ts <db-file> [port]`.
 */
import Database from 'libsql';

type Conn = InstanceType<typeof Database>;
type Stmt = ReturnType<Conn['prepare']>;

// ---------- wire types (Hrana JSON) ----------

type Value =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string };

interface HStmt {
  sql?: string;
  sql_id?: number;
  args?: Value[];
  named_args?: { name: string; value: Value }[];
  want_rows?: boolean;
}

type Cond =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: Cond }
  | { type: 'and' | 'or'; conds: Cond[] }
  | { type: 'is_autocommit' };

interface HBatch {
  steps: { condition?: Cond | null; stmt: HStmt }[];
}

type HRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: HStmt }
  | { type: 'batch'; batch: HBatch }
  | { type: 'sequence'; sql?: string; sql_id?: number }
  | { type: 'describe'; sql?: string; sql_id?: number }
  | { type: 'store_sql'; sql_id: number; sql: string }
  | { type: 'close_sql'; sql_id: number }
  | { type: 'get_autocommit' };

interface StmtResult {
  cols: { name: string | null; decltype: string | null }[];
  rows: Value[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
}

interface HError {
  message: string;
  code?: string;
}

class HranaError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

// ---------- server ----------

export interface HranaServerOptions {
  /** Path of the libSQL (SQLite) database file; created if missing. */
  path: string;
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <authToken>`. */
  authToken?: string;
  /** An idle stream is closed (its transaction rolled back) after this long. Default 10 s. */
  streamTtlMs?: number;
  /** How long a statement keeps retrying a locked database before answering SQLITE_BUSY. Default 5 s. */
  busyTimeoutMs?: number;
  /** Default 'FULL'. */
  synchronous?: 'FULL' | 'NORMAL';
}

export interface HranaStats {
  /** HTTP pipeline requests served. */
  pipelines: number;
  streamsOpened: number;
  /** Requests that continued a stream by its baton (> 0 means interactive transactions ran). */
  batonRequests: number;
  /** Pipelines that ended with their stream inside a transaction (left open for the next request). */
  transactionsHeldAcrossRequests: number;
  statements: number;
  busyRetries: number;
  expiredStreams: number;
}

export interface HranaServer {
  /** `http://127.0.0.1:<port>` — use it as DSTP_DATABASE_URL. */
  url: string;
  port: number;
  stats: HranaStats;
  /** Streams currently open. */
  openStreams(): number;
  close(): Promise<void>;
}

interface StreamState {
  id: number;
  baton: string;
  conn: Conn;
  sqls: Map<number, string>;
  expiry: ReturnType<typeof setTimeout> | null;
  /** A request of this stream is being served (a second one with the same baton must not run). */
  busy: boolean;
}

const MAX_POOLED = 16;
const STMT_CACHE = 256;

export function startHranaServer(opts: HranaServerOptions): HranaServer {
  const ttl = opts.streamTtlMs ?? 10_000;
  const busyTimeout = opts.busyTimeoutMs ?? 5_000;
  const stats: HranaStats = {
    pipelines: 0,
    streamsOpened: 0,
    batonRequests: 0,
    transactionsHeldAcrossRequests: 0,
    statements: 0,
    busyRetries: 0,
    expiredStreams: 0,
  };
  const streams = new Map<number, StreamState>();
  const pool: Conn[] = [];
  const stmtCache = new WeakMap<Conn, Map<string, Stmt>>();
  let nextStream = 1;
  let closed = false;

  const openConn = (): Conn => {
    const conn = new Database(opts.path, { timeout: 0 });
    conn.exec('PRAGMA busy_timeout = 0');
    conn.exec(`PRAGMA synchronous = ${opts.synchronous ?? 'FULL'}`);
    // Like the node's own local connections; libSQL servers enforce foreign keys as well.
    conn.exec('PRAGMA foreign_keys = ON');
    return conn;
  };
  // WAL is a property of the file: set once, before any stream runs.
  const first = openConn();
  const mode = String((first.prepare('PRAGMA journal_mode = WAL').raw(true).get([]) as unknown[])[0]);
  if (mode.toLowerCase() !== 'wal') throw new Error(`hrana server: could not switch ${opts.path} to WAL (got ${mode})`);
  pool.push(first);

  const takeConn = () => pool.pop() ?? openConn();
  const giveBack = (conn: Conn) => {
    try {
      if (conn.inTransaction) conn.exec('ROLLBACK');
    } catch {
      // a failed rollback leaves nothing to keep: drop the connection
      conn.close();
      return;
    }
    if (pool.length < MAX_POOLED && !closed) pool.push(conn);
    else conn.close();
  };

  const newBaton = (id: number) => `${id}.${crypto.randomUUID()}`;

  const endStream = (s: StreamState) => {
    if (s.expiry) clearTimeout(s.expiry);
    streams.delete(s.id);
    giveBack(s.conn);
  };

  const prepared = (conn: Conn, sql: string): Stmt => {
    let cache = stmtCache.get(conn);
    if (!cache) stmtCache.set(conn, (cache = new Map()));
    let st = cache.get(sql);
    if (!st) {
      st = conn.prepare(sql);
      if (cache.size >= STMT_CACHE) cache.delete(cache.keys().next().value!);
      cache.set(sql, st);
    }
    return st;
  };

  // Statements that return rows may still write (INSERT … RETURNING): their row count is the
  // difference of total_changes() around them.
  const totalChanges = (conn: Conn) => Number((prepared(conn, 'SELECT total_changes()').raw(true).get([]) as unknown[])[0]);
  const lastRowid = (conn: Conn) => String((prepared(conn, 'SELECT last_insert_rowid()').raw(true).safeIntegers(true).get([]) as unknown[])[0]);

  /** Runs `fn` now, or again after short waits while the database is locked by another connection. */
  const withBusyRetry = async <T>(fn: () => T): Promise<T> => {
    const deadline = performance.now() + busyTimeout;
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err) || performance.now() >= deadline) throw err;
        stats.busyRetries++;
        await Bun.sleep(wait);
      }
    }
  };

  const sqlOf = (s: StreamState, x: { sql?: string | undefined; sql_id?: number | undefined }): string => {
    if (x.sql !== undefined && x.sql !== null) return x.sql;
    if (x.sql_id !== undefined && x.sql_id !== null) {
      const sql = s.sqls.get(x.sql_id);
      if (sql === undefined) throw new HranaError(`SQL text ${x.sql_id} was not stored on this stream`, 'SQL_NOT_FOUND');
      return sql;
    }
    throw new HranaError('statement has neither sql nor sql_id', 'SQL_NO_STATEMENT');
  };

  const execute = async (s: StreamState, h: HStmt): Promise<StmtResult> => {
    const sql = sqlOf(s, h);
    stats.statements++;
    return withBusyRetry(() => {
      let st: Stmt;
      try {
        st = prepared(s.conn, sql);
      } catch (err) {
        throw toHranaError(err);
      }
      const params = bindParams(h);
      try {
        if (st.reader) {
          const before = totalChanges(s.conn);
          const rows = st.raw(true).safeIntegers(true).all(params) as unknown[][];
          const changed = totalChanges(s.conn) - before;
          return {
            cols: st.columns().map((c: { name: string; type: string | null }) => ({ name: c.name, decltype: c.type ?? null })),
            rows: h.want_rows === false ? [] : rows.map((r) => r.map(encodeValue)),
            affected_row_count: changed,
            last_insert_rowid: changed > 0 ? lastRowid(s.conn) : null,
          };
        }
        const info = st.run(params) as { changes: number; lastInsertRowid: number | bigint };
        return { cols: [], rows: [], affected_row_count: info.changes, last_insert_rowid: String(info.lastInsertRowid) };
      } catch (err) {
        if (isBusy(err)) throw err;
        throw toHranaError(err);
      }
    });
  };

  const runBatch = async (s: StreamState, b: HBatch) => {
    const results: (StmtResult | null)[] = [];
    const errors: (HError | null)[] = [];
    const holds = (c: Cond): boolean => {
      switch (c.type) {
        case 'ok':
          return results[c.step] != null;
        case 'error':
          return errors[c.step] != null;
        case 'not':
          return !holds(c.cond);
        case 'and':
          return c.conds.every(holds);
        case 'or':
          return c.conds.some(holds);
        case 'is_autocommit':
          return !s.conn.inTransaction;
        default:
          throw new HranaError(`unknown batch condition ${JSON.stringify(c)}`, 'PROTO');
      }
    };
    for (const step of b.steps) {
      if (step.condition && !holds(step.condition)) {
        results.push(null);
        errors.push(null);
        continue;
      }
      try {
        results.push(await execute(s, step.stmt));
        errors.push(null);
      } catch (err) {
        results.push(null);
        errors.push(errorBody(err));
      }
    }
    return { step_results: results, step_errors: errors };
  };

  const handle = async (s: StreamState, r: HRequest): Promise<Record<string, unknown>> => {
    switch (r.type) {
      case 'close':
        return { type: 'close' };
      case 'execute':
        return { type: 'execute', result: await execute(s, r.stmt) };
      case 'batch':
        return { type: 'batch', result: await runBatch(s, r.batch) };
      case 'sequence': {
        const sql = sqlOf(s, r);
        stats.statements++;
        await withBusyRetry(() => {
          try {
            s.conn.exec(sql);
          } catch (err) {
            if (isBusy(err)) throw err;
            throw toHranaError(err);
          }
        });
        return { type: 'sequence' };
      }
      case 'describe': {
        const sql = sqlOf(s, r);
        let st: Stmt;
        try {
          st = s.conn.prepare(sql);
        } catch (err) {
          throw toHranaError(err);
        }
        const cols = st.reader ? st.columns().map((c: { name: string; type: string | null }) => ({ name: c.name, decltype: c.type ?? null })) : [];
        // The driver does not expose parameter names; numbered parameters are what the node uses.
        return { type: 'describe', result: { params: [], cols, is_explain: /^\s*EXPLAIN\b/i.test(sql), is_readonly: st.reader } };
      }
      case 'store_sql':
        if (s.sqls.has(r.sql_id)) throw new HranaError(`SQL id ${r.sql_id} is already in use`, 'SQL_ID_IN_USE');
        s.sqls.set(r.sql_id, r.sql);
        return { type: 'store_sql' };
      case 'close_sql':
        s.sqls.delete(r.sql_id);
        return { type: 'close_sql' };
      case 'get_autocommit':
        return { type: 'get_autocommit', is_autocommit: !s.conn.inTransaction };
      default:
        throw new HranaError(`unknown request type ${JSON.stringify((r as { type?: unknown }).type)}`, 'PROTO');
    }
  };

  const pipeline = async (body: { baton?: string | null; requests?: HRequest[] }): Promise<Response> => {
    if (!body || !Array.isArray(body.requests)) return jsonError(400, 'pipeline body needs a "requests" array');
    let s: StreamState;
    if (body.baton) {
      const id = Number(body.baton.split('.')[0]);
      const found = streams.get(id);
      if (!found || found.baton !== body.baton || found.busy) {
        return jsonError(400, 'the baton is invalid or the stream has expired', 'STREAM_EXPIRED');
      }
      s = found;
      stats.batonRequests++;
    } else {
      const id = nextStream++;
      s = { id, baton: '', conn: takeConn(), sqls: new Map(), expiry: null, busy: false };
      streams.set(id, s);
      stats.streamsOpened++;
    }
    if (s.expiry) clearTimeout(s.expiry);
    s.expiry = null;
    s.busy = true;
    s.baton = newBaton(s.id); // the old baton is spent from here on
    stats.pipelines++;
    const results: unknown[] = [];
    let closeStream = false;
    try {
      for (const r of body.requests) {
        if (closeStream) {
          results.push({ type: 'error', error: { message: 'the stream is closed', code: 'STREAM_CLOSED' } });
          continue;
        }
        try {
          results.push({ type: 'ok', response: await handle(s, r) });
          if (r.type === 'close') closeStream = true;
        } catch (err) {
          results.push({ type: 'error', error: errorBody(err) });
        }
      }
    } finally {
      s.busy = false;
    }
    if (closeStream || closed) {
      endStream(s);
      return Response.json({ baton: null, base_url: null, results });
    }
    if (s.conn.inTransaction) stats.transactionsHeldAcrossRequests++;
    s.expiry = setTimeout(() => {
      stats.expiredStreams++;
      endStream(s);
    }, ttl);
    return Response.json({ baton: s.baton, base_url: null, results });
  };

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: opts.port ?? 0,
    fetch: async (req) => {
      const url = new URL(req.url);
      if (opts.authToken !== undefined && req.headers.get('authorization') !== `Bearer ${opts.authToken}`) {
        return jsonError(401, 'missing or wrong auth token', 'UNAUTHORIZED');
      }
      if (req.method === 'GET' && (url.pathname === '/v2' || url.pathname === '/v3' || url.pathname === '/health')) {
        return new Response(null, { status: 200 });
      }
      if (req.method === 'POST' && (url.pathname === '/v2/pipeline' || url.pathname === '/v3/pipeline')) {
        let body: { baton?: string | null; requests?: HRequest[] };
        try {
          body = (await req.json()) as typeof body;
        } catch {
          return jsonError(400, 'the body is not JSON');
        }
        return pipeline(body);
      }
      return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    stats,
    openStreams: () => streams.size,
    async close() {
      closed = true;
      await server.stop(true);
      for (const s of [...streams.values()]) endStream(s);
      for (const c of pool.splice(0)) c.close();
    },
  };
}

// ---------- values and errors ----------

function bindParams(h: HStmt): unknown[] | Record<string, unknown> {
  const named = h.named_args ?? [];
  if (named.length === 0) return (h.args ?? []).map(decodeValue);
  if ((h.args ?? []).length > 0) throw new HranaError('mixing positional and named arguments is not supported here', 'ARGS_INVALID');
  // The driver binds :x, @x and $x by the bare name.
  return Object.fromEntries(named.map((a) => [a.name.replace(/^[:@$]/, ''), decodeValue(a.value)]));
}

function decodeValue(v: Value): unknown {
  switch (v.type) {
    case 'null':
      return null;
    case 'integer':
      return BigInt(v.value);
    case 'float':
      return Number(v.value);
    case 'text':
      return v.value;
    case 'blob':
      return Buffer.from(v.base64, 'base64');
    default:
      throw new HranaError(`unknown value type ${JSON.stringify((v as { type?: unknown }).type)}`, 'ARGS_INVALID');
  }
}

function encodeValue(x: unknown): Value {
  if (x === null || x === undefined) return { type: 'null' };
  if (typeof x === 'bigint') return { type: 'integer', value: x.toString() };
  // Statements run with safeIntegers: every INTEGER arrives as a bigint, so a number is a REAL.
  if (typeof x === 'number') return { type: 'float', value: x };
  if (typeof x === 'string') return { type: 'text', value: x };
  if (x instanceof Uint8Array) return { type: 'blob', base64: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') };
  throw new HranaError(`cannot encode a ${typeof x} from the database`);
}


function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

function toHranaError(err: unknown): HranaError {
  if (err instanceof HranaError) return err;
  const code = (err as { code?: unknown })?.code;
  return new HranaError(err instanceof Error ? err.message : String(err), typeof code === 'string' ? code : 'SQLITE_ERROR');
}

function errorBody(err: unknown): HError {
  const e = toHranaError(err);
  return e.code ? { message: e.message, code: e.code } : { message: e.message };
}

function jsonError(status: number, message: string, code?: string): Response {
  return Response.json(code ? { message, code } : { message }, { status });
}

if (import.meta.main) {
  const [path, port] = process.argv.slice(2);
  if (!path) {
    console.error('usage: bun test/helpers/hrana-server.ts <db-file> [port]');
    process.exit(2);
  }
  const s = startHranaServer({ path, ...(port ? { port: Number(port) } : {}) });
  console.log(`hrana listening on ${s.url} (${path})`);
}
