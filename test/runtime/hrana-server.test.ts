/**
 * The test libSQL server (test/helpers/hrana-server.ts) driven by the real `@libsql/client/web` —
 * the client the Workers build uses — before anything of the node runs over it: statements,
 * batches, interactive transactions that span HTTP requests by baton, two writers at once,
 * stored SQL, errors, expiry, auth. Then the node's Database (migrations, write queue, reads) on it.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createFileClient } from '@libsql/client';
import { createClient, type Client } from '@libsql/client/web';
import { openDatabaseWithClient } from '../../src/store/database.ts';
import { MIGRATIONS } from '../../src/store/migrations.generated.ts';
import { startHranaServer, type HranaServer } from '../helpers/hrana-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'dstp-hrana-'));
const servers: HranaServer[] = [];
const clients: Client[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function serve(name: string, opts: { authToken?: string; streamTtlMs?: number } = {}) {
  const path = join(dir, `${name}.db`);
  const server = startHranaServer({ path, synchronous: 'NORMAL', ...opts });
  servers.push(server);
  return { server, path };
}

function client(url: string, authToken?: string): Client {
  const c = createClient({ url, ...(authToken ? { authToken } : {}) });
  clients.push(c);
  return c;
}

describe('hrana test server under @libsql/client/web', () => {
  test('statements, typed values, batches and RETURNING', async () => {
    const { server, path } = serve('values');
    const c = client(server.url);
    await c.execute('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, b BLOB, r REAL, n INTEGER)');
    const big = 9007199254740993n; // above 2^53: must survive as an integer
    const ins = await c.execute({ sql: 'INSERT INTO t (v, b, r, n) VALUES (?, ?, ?, ?)', args: ['x', new Uint8Array([0, 1, 255]), 1.5, big] });
    expect(ins.rowsAffected).toBe(1);
    expect(ins.lastInsertRowid).toBe(1n);

    const rs = await c.execute('SELECT k, v, b, r, NULL AS z FROM t');
    expect(rs.columns).toEqual(['k', 'v', 'b', 'r', 'z']);
    expect(rs.columnTypes.slice(0, 4)).toEqual(['INTEGER', 'TEXT', 'BLOB', 'REAL']);
    const row = rs.rows[0]!;
    expect(row.v).toBe('x');
    expect(new Uint8Array(row.b as ArrayBuffer)).toEqual(new Uint8Array([0, 1, 255]));
    expect(row.r).toBe(1.5);
    expect(row.z).toBeNull();
    // intMode 'number' (the default) refuses unsafe integers; 'bigint' gets them exactly.
    await expect(c.execute('SELECT n FROM t')).rejects.toThrow(RangeError);
    const exact = createClient({ url: server.url, intMode: 'bigint' });
    clients.push(exact);
    expect((await exact.execute('SELECT n FROM t')).rows[0]!.n).toBe(big);

    const ret = await c.execute({ sql: 'INSERT INTO t (v) VALUES (?), (?) RETURNING k', args: ['y', 'z'] });
    expect(ret.rows.map((r) => r.k)).toEqual([2, 3]);
    expect(ret.rowsAffected).toBe(2);

    // A batch is one transaction: a failing statement rolls back the ones before it.
    const failed = await c.batch(['INSERT INTO t (v) VALUES (\'in-batch\')', 'INSERT INTO t (k) VALUES (1)'], 'write').catch((e: Error) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(String((failed as Error).message)).toContain('UNIQUE');
    expect((await c.execute("SELECT count(*) AS n FROM t WHERE v = 'in-batch'")).rows[0]!.n).toBe(0);
    // Repeated statements go through store_sql / sql_id.
    const many = await c.batch(Array.from({ length: 5 }, (_, i) => ({ sql: 'INSERT INTO t (v) VALUES (?)', args: [`m${i}`] })), 'write');
    expect(many.map((r) => r.rowsAffected)).toEqual([1, 1, 1, 1, 1]);

    // What the server wrote is an ordinary libSQL file.
    const local = createFileClient({ url: `file:${path}` });
    expect((await local.execute('SELECT count(*) AS n FROM t')).rows[0]!.n).toBe(8);
    local.close();
  });

  test('an interactive transaction keeps its connection across requests (baton); rollback and commit', async () => {
    const { server } = serve('tx');
    const c = client(server.url);
    await c.execute('CREATE TABLE acct (id TEXT PRIMARY KEY, bal INTEGER NOT NULL)');
    await c.execute("INSERT INTO acct VALUES ('a', 10), ('b', 0)");
    const before = server.stats.batonRequests;

    const tx = await c.transaction('write');
    await tx.execute("UPDATE acct SET bal = bal - 3 WHERE id = 'a'");
    // Its own uncommitted write is visible inside the transaction, invisible outside.
    expect((await tx.execute("SELECT bal FROM acct WHERE id = 'a'")).rows[0]!.bal).toBe(7);
    expect((await c.execute("SELECT bal FROM acct WHERE id = 'a'")).rows[0]!.bal).toBe(10);
    await tx.rollback();
    expect((await c.execute("SELECT bal FROM acct WHERE id = 'a'")).rows[0]!.bal).toBe(10);

    const tx2 = await c.transaction('write');
    await tx2.execute("UPDATE acct SET bal = bal - 4 WHERE id = 'a'");
    await tx2.execute("UPDATE acct SET bal = bal + 4 WHERE id = 'b'");
    await tx2.commit();
    const rows = (await c.execute('SELECT id, bal FROM acct ORDER BY id')).rows.map((r) => [r.id, r.bal]);
    expect(rows).toEqual([
      ['a', 6],
      ['b', 4],
    ]);
    expect(server.stats.batonRequests - before).toBeGreaterThanOrEqual(4);
    expect(server.stats.transactionsHeldAcrossRequests).toBeGreaterThan(0);
    expect(server.openStreams()).toBe(0);
  });

  test('two writers at once: the second waits (asynchronously) for the first to commit', async () => {
    const { server } = serve('writers');
    const a = client(server.url);
    const b = client(server.url);
    await a.execute('CREATE TABLE c (n INTEGER NOT NULL)');
    await a.execute('INSERT INTO c VALUES (0)');
    const txA = await a.transaction('write');
    await txA.execute('UPDATE c SET n = n + 1');
    // B's BEGIN IMMEDIATE meets A's lock and keeps retrying while A goes on over HTTP.
    const bDone = (async () => {
      const txB = await b.transaction('write');
      await txB.execute('UPDATE c SET n = n * 10');
      await txB.commit();
    })();
    await Bun.sleep(50);
    await txA.execute('UPDATE c SET n = n + 1');
    await txA.commit();
    await bDone;
    expect((await a.execute('SELECT n FROM c')).rows[0]!.n).toBe(20);
    expect(server.stats.busyRetries).toBeGreaterThan(0);

    // Many concurrent increments, each its own transaction: none lost.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const tx = await b.transaction('write');
        const n = Number((await tx.execute('SELECT n FROM c')).rows[0]!.n);
        await tx.execute({ sql: 'UPDATE c SET n = ?', args: [n + 1] });
        await tx.commit();
      }),
    );
    expect((await a.execute('SELECT n FROM c')).rows[0]!.n).toBe(40);
  });

  test('an abandoned transaction expires and is rolled back; a spent baton is refused', async () => {
    const { server } = serve('expiry', { streamTtlMs: 200 });
    const c = client(server.url);
    await c.execute('CREATE TABLE e (x INTEGER)');
    const tx = await c.transaction('write');
    await tx.execute('INSERT INTO e VALUES (1)');
    await Bun.sleep(400);
    expect(server.stats.expiredStreams).toBeGreaterThan(0);
    const late = await tx.execute('INSERT INTO e VALUES (2)').catch((e: Error) => e);
    expect(late).toBeInstanceOf(Error);
    tx.close();
    expect((await c.execute('SELECT count(*) AS n FROM e')).rows[0]!.n).toBe(0);
    // The lock went with it: a new writer gets in at once.
    await c.execute('INSERT INTO e VALUES (3)');

    const raw = async (baton?: string) =>
      fetch(`${server.url}/v2/pipeline`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...(baton ? { baton } : {}), requests: [{ type: 'execute', stmt: { sql: 'SELECT 1', args: [], want_rows: true } }] }),
      });
    const first = (await (await raw()).json()) as { baton: string };
    expect(typeof first.baton).toBe('string');
    expect((await raw(first.baton)).status).toBe(200);
    expect((await raw(first.baton)).status).toBe(400); // spent
  });

  test('auth token', async () => {
    const { server } = serve('auth', { authToken: 'sekret-token' });
    const ok = client(server.url, 'sekret-token');
    expect((await ok.execute('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    const wrong = client(server.url, 'nope');
    await expect(wrong.execute('SELECT 1')).rejects.toThrow();
  });

  test("the node's Database over HTTP: migrations once, write queue, reads", async () => {
    const { server, path } = serve('node-db');
    const db = await openDatabaseWithClient(client(server.url));
    expect(db.local).toBe(false);
    // Applying again finds nothing to do (the journal lives in the file the server serves).
    const again = await openDatabaseWithClient(client(server.url));
    const local = createFileClient({ url: `file:${path}` });
    const applied = await local.execute('SELECT count(*) AS n FROM "__drizzle_migrations"');
    expect(applied.rows[0]!.n).toBe(MIGRATIONS.length);
    local.close();

    await db.write(async (tx) => {
      await tx.execute({ sql: 'INSERT INTO lease (name, holder, token, expires_at) VALUES (?, ?, ?, ?)', args: ['x', 'me', 1, 5] });
    });
    const boom = await db
      .write(async (tx) => {
        await tx.execute({ sql: 'UPDATE lease SET token = 2 WHERE name = ?', args: ['x'] });
        throw new Error('abort');
      })
      .catch((e: Error) => e.message);
    expect(boom).toBe('abort');
    const rs = await again.read.execute({ sql: 'SELECT holder, token FROM lease WHERE name = ?', args: ['x'] });
    expect([rs.rows[0]![0], rs.rows[0]![1]]).toEqual(['me', 1]);
    await db.close();
    await again.close();
  });
});
