/**
 * The database settings the runtimes read: remote URLs, the embedded replica pair
 * (DSTP_DATABASE_SYNC_URL needs a local file as DSTP_DATABASE_URL), and its sync interval.
 */
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startHranaServer } from '../helpers/hrana-server.ts';
import { REPO_ROOT } from './runtimes.ts';

describe('database configuration', () => {
  test('an embedded replica: local file plus the primary it syncs from', () => {
    const c = loadConfig({
      DSTP_DATABASE_URL: 'file:/var/lib/dstp/replica.db',
      DSTP_DATABASE_SYNC_URL: 'libsql://dstp-example.turso.io',
      DSTP_DATABASE_AUTH_TOKEN: 'token',
      DSTP_DATABASE_SYNC_INTERVAL_S: '5',
    });
    expect([c.databaseUrl, c.databaseSyncUrl, c.databaseAuthToken, c.databaseSyncIntervalS, c.dataDir]).toEqual([
      'file:/var/lib/dstp/replica.db',
      'libsql://dstp-example.turso.io',
      'token',
      5,
      '/var/lib/dstp',
    ]);
  });

  test('without a sync URL there is no replica; the interval defaults to 1 s', () => {
    const c = loadConfig({ DSTP_DATABASE_URL: 'https://sqld.internal:8080' });
    expect(c.databaseSyncUrl).toBeUndefined();
    expect(c.databaseSyncIntervalS).toBe(1);
  });

  test('a replica needs a file: URL as its local database, and a remote sync URL', () => {
    expect(() => loadConfig({ DSTP_DATABASE_URL: 'libsql://a.turso.io', DSTP_DATABASE_SYNC_URL: 'libsql://b.turso.io' })).toThrow(ConfigError);
    expect(() => loadConfig({ DSTP_DATABASE_URL: 'file:x.db', DSTP_DATABASE_SYNC_URL: 'file:y.db' })).toThrow(/DSTP_DATABASE_SYNC_URL/);
    expect(() => loadConfig({ DSTP_DATABASE_SYNC_INTERVAL_S: '0' })).toThrow(/DSTP_DATABASE_SYNC_INTERVAL_S/);
  });
});

/**
 * The embedded replica's start path, a real node process with the real libSQL driver. An embedded
 * replica refuses every PRAGMA with an argument (`Sqlite3UnsupportedStatement`), so the node must
 * not set local pragmas on it; it must get as far as sending its first write (the migrations'
 * BEGIN) to the primary. The only primary here is the test Hrana server, which does not speak
 * libSQL's replication protocol (gRPC), so the start ends there — at the primary, not at a local
 * refusal. (The node runs in its own process: the replica's first sync is a blocking call, and
 * this process serves the primary.)
 */
describe('embedded replica: starting a node', () => {
  test('no local statement is refused; the first write is delegated to the primary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dstp-replica-'));
    const primary = startHranaServer({ path: join(dir, 'primary.db') });
    try {
      const proc = Bun.spawn([join(REPO_ROOT, 'node_modules', '.bin', 'bun'), 'src/runtime/bun.ts'], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          HOST: '127.0.0.1',
          DSTP_DATA_DIR: dir,
          DSTP_DATABASE_URL: `file:${join(dir, 'replica.db')}`,
          DSTP_DATABASE_SYNC_URL: primary.url,
          DSTP_LOG: 'error',
        },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      clearTimeout(killer);
      const text = out + err;
      expect({ code: code === 0 ? 'exit 0' : 'failed', refusedLocally: text.includes('UnsupportedStatement') }).toEqual({ code: 'failed', refusedLocally: false });
      expect(text).toContain('WriteDelegation');
      expect(primary.stats.pipelines).toBe(0); // what reached the primary was gRPC, not Hrana
    } finally {
      await primary.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
