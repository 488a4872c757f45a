/**
 * The database settings the runtimes read: remote URLs, the embedded replica pair
 * (DSTP_DATABASE_SYNC_URL needs a local file as DSTP_DATABASE_URL), and its sync interval.
 */
import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../../src/config.ts';

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
