import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createClient, type Client } from '@libsql/client';
import { attachPreparedReads } from './prepared-reads.ts';
import { DEFAULT_BUSY_TIMEOUT_MS, openDatabaseWithClient, type ConnectionSettings, type Database } from './database.ts';

export interface OpenDatabaseOptions extends ConnectionSettings {
  /** `file:path`, `libsql://…`, `http(s)://…` or `ws(s)://…`. */
  url: string;
  authToken?: string;
  /** Embedded replica: a local `file:` url that syncs from this remote primary. */
  syncUrl?: string;
  /** Seconds between a replica's pulls from its primary (without it, only writes made here show up). */
  syncIntervalS?: number;
  /** Default true. */
  migrate?: boolean;
}

/**
 * Opens the node's database on Bun, Node or Deno and brings its schema up to date.
 *
 * A local file gets two single-connection clients: a writer (every write transaction, queued by
 * `Database.write`) and a read-only reader, so reads never wait for a write transaction in
 * progress. `concurrency: 1` is what makes the pragmas trustworthy: @libsql/client opens pooled
 * connections lazily, and a pragma set on one connection does not reach the others.
 * The folder of a `file:` database is created if missing.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const settings = { busyTimeoutMs: busy, ...(opts.synchronous ? { synchronous: opts.synchronous } : {}) };
  const migrate = opts.migrate ?? true;
  const base = {
    url: opts.url,
    ...(opts.authToken ? { authToken: opts.authToken } : {}),
    ...(opts.syncUrl ? { syncUrl: opts.syncUrl, ...(opts.syncIntervalS ? { syncInterval: opts.syncIntervalS } : {}) } : {}),
  };
  if (!opts.url.startsWith('file:')) {
    return openDatabaseWithClient(createClient(base), { ...settings, migrate });
  }
  const path = filePath(opts.url);
  if (path !== null) await mkdir(dirname(resolve(path)), { recursive: true });
  const writer = createClient({ ...base, concurrency: 1, timeout: busy });
  let reader: Client | undefined;
  try {
    // An embedded replica keeps its sync state per connection: it must stay a single client.
    if (!opts.syncUrl && path !== null) reader = createClient({ url: opts.url, concurrency: 1, timeout: busy });
    const db = await openDatabaseWithClient(writer, { ...settings, migrate, ...(reader ? { reader } : {}), ...(opts.syncUrl ? { replica: true } : {}) });
    // Hot single-row reads (state reads' subtree head) skip the client's per-statement prepare.
    if (reader && path !== null) await attachPreparedReads(db, path, busy);
    return db;
  } catch (err) {
    writer.close();
    reader?.close();
    throw err;
  }
}

/** The file path of a `file:` URL, or null for an in-memory database. */
function filePath(url: string): string | null {
  const rest = url.slice('file:'.length).split('?')[0]!;
  if (rest === ':memory:' || rest === '') return null;
  // file:///abs, file:/abs and file:rel are all accepted by @libsql/client.
  return rest.startsWith('//') ? decodeURIComponent(rest.slice(2).replace(/^localhost/, '')) : decodeURIComponent(rest);
}
