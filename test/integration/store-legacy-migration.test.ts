/**
 * A database written by the previous release (the hash-keyed smt_nodes layout) opens with this
 * code: migration 0010 converts it, and the node serves every old height's state and proof exactly
 * as the old node did, keeps building rounds on the converted tree, and a failed migration leaves
 * the old database as it was. The fixture is test/fixtures/legacy-db (made by
 * `bun scripts/legacy-db/make.ts <commit>`; COMMIT names the commit whose code wrote it).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createClient } from '@libsql/client';
import { keyFromSecret, signTransaction } from '../../src/client/index.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { openDatabase } from '../../src/store/db.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { MIGRATIONS } from '../../src/store/migrations.generated.ts';
import { cleanupAll, http, spawnNode, tempDir, type NodeProc } from '../reliability/harness.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'legacy-db');

interface Expected {
  network: string;
  nodeKey: string;
  admin: string;
  subtrees: { id: string; keys: string[] }[];
  expected: { subtree: string; key: string; height: number; status: number; body: unknown }[];
}
const fixture = JSON.parse(gunzipSync(readFileSync(join(FIXTURE, 'expected.json.gz'))).toString('utf8')) as Expected;

/** A fresh copy of the legacy database file. */
function legacyCopy(): string {
  const path = join(tempDir('dstp-legacy-'), 'dstp.db');
  writeFileSync(path, gunzipSync(readFileSync(join(FIXTURE, 'dstp.db.gz'))));
  return path;
}

async function tables(path: string): Promise<string[]> {
  const c = createClient({ url: `file:${path}` });
  try {
    return (await c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")).rows.map((r) => String(r[0]));
  } finally {
    c.close();
  }
}

function start(dbPath: string): Promise<NodeProc> {
  return spawnNode({ dbPath, nodeKeyHex: fixture.nodeKey, roundIntervalMs: 3_600_000, env: { DSTP_NETWORK: fixture.network } });
}

async function expectAllOldAnswers(url: string): Promise<void> {
  for (const e of fixture.expected) {
    const r = await http(url, 'GET', `/v1/subtrees/${e.subtree}/state/${e.key}?height=${e.height}`);
    expect({ at: `${e.subtree.slice(0, 8)} ${e.key} @${e.height}`, status: r.status, body: r.body }).toEqual({
      at: `${e.subtree.slice(0, 8)} ${e.key} @${e.height}`,
      status: e.status,
      body: e.body,
    });
  }
}

afterAll(cleanupAll);

describe('a database from the previous release', () => {
  test('the fixture is in the old layout and covers several subtrees and rounds', async () => {
    const path = legacyCopy();
    expect(await tables(path)).toContain('smt_nodes');
    expect(await tables(path)).not.toContain('smt_tree');
    expect(fixture.subtrees.length).toBe(3);
    expect(Math.max(...fixture.expected.map((e) => e.height))).toBeGreaterThanOrEqual(6);
    expect(fixture.expected.length).toBeGreaterThan(100);
  });

  test('migrates on start, serves every old height byte for byte, builds new rounds on it, and restarts without migrating again', async () => {
    const path = legacyCopy();
    const before = createClient({ url: `file:${path}` });
    const oldNodes = Number((await before.execute('SELECT count(*) FROM smt_nodes')).rows[0]![0]);
    before.close();

    let node = await start(path);
    await expectAllOldAnswers(node.url);
    const names = await tables(path);
    expect(names).toContain('smt_tree');
    expect(names).not.toContain('smt_nodes');

    // New rounds on the converted tree: a write to the first subtree, then proofs at its new head.
    const alpha = fixture.subtrees[0]!;
    const writer = keyFromSecret('ed25519', '44'.repeat(32));
    for (let n = 0; n < 3; n++) {
      const tx = signTransaction({ network: fixture.network, subtree: alpha.id, key: writer, nonce: n, call: n === 2 ? 'delete' : 'set', args: n === 2 ? { key: 'k1' } : { key: `new${n}`, value: n } });
      expect((await http(node.url, 'POST', '/v1/transactions', { json: tx.envelope })).status).toBe(202);
      expect((await http(node.url, 'POST', '/v1/leader/tick', { admin: true })).status).toBe(200);
    }
    const head = (await http(node.url, 'GET', `/v1/subtrees/${alpha.id}`)).body;
    for (const key of ['kv/new0', 'kv/new1', 'kv/k1', ...alpha.keys]) {
      const r = await http(node.url, 'GET', `/v1/subtrees/${alpha.id}/state/${key}`);
      expect(r.status).toBe(200);
      expect(r.body.height).toBe(head.height);
      verifyProof(r.body.proof, { key, root: head.root, ...(r.body.exists ? { value: r.body.value } : {}) });
      if (key === 'kv/new1') expect(r.body.value).toBe(1);
      if (key === 'kv/k1') expect(r.body.exists).toBe(false);
    }

    await node.stop();
    const after = createClient({ url: `file:${path}` });
    expect(Number((await after.execute('SELECT count(*) FROM smt_tree WHERE id <= ?', [oldNodes])).rows[0]![0])).toBe(oldNodes);
    after.close();
    node = await start(path);
    await expectAllOldAnswers(node.url);
    await node.stop();
  }, 120_000);

  test('a migration that fails midway leaves the old database untouched, and the next start converts it', async () => {
    const path = legacyCopy();
    const copy = `${path}.before`;
    copyFileSync(path, copy);
    const db = await openDatabase({ url: `file:${path}`, migrate: false });
    const at = MIGRATIONS.findIndex((m) => m.tag.includes('node_layout'));
    const layout = MIGRATIONS[at]!;
    // The conversion's statements run, then the step dies before its end (as a kill -9 would).
    const broken = { ...layout, statements: [...layout.statements.slice(0, -1), 'SELECT no_such_function()'] };
    await expect(applyMigrations(db, [...MIGRATIONS.slice(0, at), broken])).rejects.toThrow();
    const rows = async (sql: string) => (await db.read.execute(sql)).rows.map((r) => Array.from(r as unknown as unknown[]));
    expect(await rows("SELECT name FROM sqlite_master WHERE name IN ('smt_tree', 'smt_roots')")).toEqual([]);
    const old = createClient({ url: `file:${copy}` });
    const want = (await old.execute('SELECT hex(hash), hex(bytes) FROM smt_nodes ORDER BY hash')).rows.map((r) => Array.from(r as unknown as unknown[]));
    old.close();
    expect(await rows('SELECT hex(hash), hex(bytes) FROM smt_nodes ORDER BY hash')).toEqual(want);
    expect(await applyMigrations(db)).toEqual(MIGRATIONS.slice(at).map((m) => m.tag));
    expect(Number((await db.read.execute('SELECT count(*) FROM smt_tree')).rows[0]![0])).toBe(want.length);
    // Every converted row is a blob: the bytes, plus two ids for an inner node.
    expect(await rows("SELECT typeof(rec), length(rec), count(*) FROM smt_tree GROUP BY 1, 2 ORDER BY 2")).toEqual([
      ['blob', 65, want.filter((r) => String(r[1]).startsWith('00')).length],
      ['blob', 81, want.filter((r) => String(r[1]).startsWith('01')).length],
    ]);
    await db.close();
  });
});
