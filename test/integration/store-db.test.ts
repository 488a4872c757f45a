import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { openDatabaseWithClient, readPragmas } from '../../src/store/database.ts';
import { openDatabase } from '../../src/store/db.ts';
import { applyMigrations, MigrationMismatchError } from '../../src/store/migrate.ts';
import { MIGRATIONS } from '../../src/store/migrations.generated.ts';
import { openTemp, REPO_ROOT, runChild, tempDir } from './store-helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FULL = 2;

describe('migrations', () => {
  test('the embedded copy matches migrations/ (run `npm run db:generate` if this fails)', () => {
    const journal = JSON.parse(readFileSync(join(REPO_ROOT, 'migrations/meta/_journal.json'), 'utf8')) as {
      entries: { tag: string; when: number }[];
    };
    expect(MIGRATIONS.map((m) => m.tag)).toEqual(journal.entries.map((e) => e.tag));
    for (const e of journal.entries) {
      const text = readFileSync(join(REPO_ROOT, 'migrations', `${e.tag}.sql`), 'utf8');
      const m = MIGRATIONS.find((x) => x.tag === e.tag)!;
      expect(m.when).toBe(e.when);
      expect(m.hash).toBe(createHash('sha256').update(text).digest('hex'));
    }
    const sqlFiles = readdirSync(join(REPO_ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
    expect(sqlFiles.length).toBe(MIGRATIONS.length);
  });

  test('apply creates the schema, a second apply does nothing', async () => {
    const url = tmp.url();
    const db = await openDatabase({ url, migrate: false });
    expect(await applyMigrations(db)).toEqual(MIGRATIONS.map((m) => m.tag));
    expect(await applyMigrations(db)).toEqual([]);
    const tables = (await db.read.execute("SELECT name FROM sqlite_master WHERE type = 'table'")).rows.map((r) => r[0]);
    for (const t of ['subtrees', 'txs', 'rounds', 'smt_tree', 'smt_roots', 'smt_values', 'lease', 'events']) expect(tables).toContain(t);
    expect(tables).not.toContain('smt_nodes'); // converted by 0010_node_layout
    const rootsSql = (await db.read.execute("SELECT sql FROM sqlite_master WHERE name = 'smt_roots'")).rows[0]![0];
    expect(String(rootsSql)).toContain('WITHOUT ROWID');
    const rows = (await db.read.execute('SELECT hash, created_at FROM __drizzle_migrations')).rows;
    expect(rows.length).toBe(MIGRATIONS.length);
    await db.close();
    // Reopening (which applies migrations) leaves the bookkeeping as it was.
    const again = await openDatabase({ url });
    expect((await again.read.execute('SELECT count(*) FROM __drizzle_migrations')).rows[0]![0]).toBe(MIGRATIONS.length);
    await again.close();
  });

  test('four processes opening a new file at once apply each migration exactly once', async () => {
    const url = tmp.url();
    const code = `
      import { openDatabase } from './src/store/db.ts';
      import { applyMigrations } from './src/store/migrate.ts';
      const db = await openDatabase({ url: process.env.DB_URL, migrate: false });
      const applied = await applyMigrations(db);
      console.log(JSON.stringify(applied));
      await db.close();`;
    const outs = await Promise.all([1, 2, 3, 4].map(() => runChild(code, { DB_URL: url })));
    const applied = outs.map((o) => JSON.parse(o.trim()) as string[]);
    expect(applied.filter((a) => a.length > 0).length).toBe(1);
    expect(applied.flat()).toEqual(MIGRATIONS.map((m) => m.tag));
    const db = await openTemp(url);
    expect((await db.read.execute('SELECT count(*) FROM __drizzle_migrations')).rows[0]![0]).toBe(MIGRATIONS.length);
    await db.close();
  });

  test('an applied migration whose SQL changed stops the start', async () => {
    const db = await openTemp(tmp.url());
    const edited = MIGRATIONS.map((m, i) => (i === 0 ? { ...m, hash: '00'.repeat(32) } : m));
    await expect(applyMigrations(db, edited)).rejects.toBeInstanceOf(MigrationMismatchError);
    await db.close();
  });

  test('open creates the folder of a file database', async () => {
    const url = tmp.url('deep/er/still');
    const path = url.slice('file:'.length);
    expect(existsSync(join(path, '..'))).toBe(false);
    const db = await openTemp(url);
    expect(existsSync(path)).toBe(true);
    await db.close();
  });
});

describe('connection settings', () => {
  test('WAL, synchronous=FULL, foreign_keys and busy_timeout hold on every statement path', async () => {
    const db = await openTemp(tmp.url(), { busyTimeoutMs: 4321 });
    const expectWriter = (p: Awaited<ReturnType<typeof readPragmas>>) =>
      expect(p).toEqual({ journalMode: 'wal', synchronous: FULL, fullfsync: 1, foreignKeys: 1, busyTimeout: 4321, queryOnly: 0 });
    const expectReader = (p: Awaited<ReturnType<typeof readPragmas>>) =>
      expect(p).toEqual({ journalMode: 'wal', synchronous: FULL, fullfsync: 1, foreignKeys: 1, busyTimeout: 4321, queryOnly: 1 });

    // write path: interactive transaction (execute and batch inside it), several in a row
    for (let i = 0; i < 3; i++) {
      await db.write(async (tx) => {
        await tx.execute({ sql: 'INSERT INTO lease VALUES (?, ?, ?, ?)', args: [`l${i}`, 'h', 1, 0] });
        expectWriter(await readPragmas(tx));
        const viaExecute = await tx.execute('PRAGMA synchronous');
        expect(viaExecute.rows[0]![0]).toBe(FULL);
      });
    }
    // read path: plain execute and batch, many at once, also while a write transaction is open
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const writing = db.write(async (tx) => {
      await tx.execute({ sql: 'INSERT INTO lease VALUES (?, ?, ?, ?)', args: ['busy', 'h', 1, 0] });
      await held;
    });
    const reads = await Promise.all(Array.from({ length: 16 }, () => readPragmas(db.read)));
    for (const p of reads) expectReader(p);
    const single = await Promise.all(Array.from({ length: 16 }, () => db.read.execute('PRAGMA synchronous')));
    for (const r of single) expect(r.rows[0]![0]).toBe(FULL);
    // the reader does not see the open transaction's row, and is not blocked by it
    expect((await db.read.execute("SELECT count(*) FROM lease WHERE name = 'busy'")).rows[0]![0]).toBe(0);
    release();
    await writing;
    expect((await db.read.execute("SELECT count(*) FROM lease WHERE name = 'busy'")).rows[0]![0]).toBe(1);
    // foreign keys are enforced on the write path
    await expect(
      db.write((tx) =>
        tx.execute({
          sql: 'INSERT INTO rounds (subtree, height, hash, header, signatures, tx_ids, state_root, created_at) VALUES (?,?,?,?,?,?,?,?)',
          args: ['ab'.repeat(32), 0, 'cd'.repeat(32), '{}', '[]', '[]', 'ef'.repeat(32), 0],
        }),
      ),
    ).rejects.toThrow(/FOREIGN KEY/);
    // the reader cannot write
    await expect(db.read.execute("INSERT INTO lease VALUES ('x', 'h', 1, 0)")).rejects.toThrow(/readonly|query_only/i);
    await db.close();
  });

  test('an in-memory database works (single connection, journal in memory)', async () => {
    for (const url of [':memory:', 'file::memory:']) {
      const db = await openDatabase({ url });
      expect(db.settings.writer).toMatchObject({ journalMode: 'memory', synchronous: FULL, foreignKeys: 1 });
      await db.write((tx) => tx.execute("INSERT INTO lease VALUES ('m', 'h', 1, 0)"));
      expect((await db.read.execute('SELECT count(*) FROM lease')).rows[0]![0]).toBe(1);
      await db.close();
    }
  });

  test('synchronous=NORMAL reaches the write connection when asked (benchmarks only)', async () => {
    const db = await openTemp(tmp.url(), { synchronous: 'NORMAL' });
    expect(db.settings.writer?.synchronous).toBe(1);
    expect(await db.write((tx) => readPragmas(tx))).toMatchObject({ synchronous: 1 });
    await db.close();
  });

  test('a single local client (openDatabaseWithClient) keeps one configured connection on every path', async () => {
    const url = tmp.url();
    await openTemp(url).then((d) => d.close()); // create folder + schema
    const client = createClient({ url, concurrency: 1 });
    const db = await openDatabaseWithClient(client);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const writing = db.write(async () => held);
    // Without the queue these reads would hit TRANSACTION_ACTIVE on the client's only connection.
    const reads = Promise.all(Array.from({ length: 8 }, () => readPragmas(db.read)));
    await sleep(5);
    release();
    await writing;
    for (const p of await reads) expect(p).toMatchObject({ journalMode: 'wal', synchronous: FULL, foreignKeys: 1 });
    await db.close();
  });

  test('pitfall: a pooled client spreads statements over connections that never saw a PRAGMA', async () => {
    const url = tmp.url();
    await openTemp(url).then((d) => d.close());
    const pooled = createClient({ url }); // default pool of up to 20 connections
    await pooled.execute('PRAGMA synchronous = OFF');
    expect((await pooled.execute('PRAGMA synchronous')).rows[0]![0]).toBe(0); // same idle connection
    const tx = await pooled.transaction('write'); // holds that connection...
    const other = await pooled.execute('PRAGMA synchronous'); // ...so this one opens a new one
    expect(other.rows[0]![0]).not.toBe(0);
    await tx.rollback();
    pooled.close();
  });

  test('pitfall: two write connections in one process stall on busy_timeout (why writes are queued)', async () => {
    const url = tmp.url();
    const a = await openTemp(url, { busyTimeoutMs: 150 });
    const b = await openTemp(url, { busyTimeoutMs: 150 });
    const started = performance.now();
    let bError: unknown;
    const aDone = a.write(async (tx) => {
      await tx.execute("INSERT INTO lease VALUES ('a', 'h', 1, 0)");
      await sleep(20); // B tries to begin meanwhile: its busy wait freezes this very thread
    });
    await sleep(1);
    await b.write((tx) => tx.execute("INSERT INTO lease VALUES ('b', 'h', 1, 0)")).catch((e) => (bError = e));
    await aDone;
    expect(String(bError)).toMatch(/SQLITE_BUSY|locked/i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    await a.close();
    await b.close();
  });
});
