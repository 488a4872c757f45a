/**
 * Builds a small node database with the code of the checkout it runs in, for the migration test
 * (test/integration/store-legacy-migration.test.ts). `make.ts` copies this file into a checkout of
 * a given commit and runs it there; it uses only that commit's HTTP API and client SDK.
 *
 * Writes into `outDir`, gzipped: `dstp.db.gz` (one file: WAL folded in, vacuumed) and
 * `expected.json.gz`, the node's own answers to GET …/state/{key}?height=h for every subtree, height and a set of keys
 * (present, deleted, never written), which the migrated database must give back byte for byte.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { buildSubtreeRequest, keyFromSecret, signSubtreeRequest, signTransaction, tokenGenesis } from '../../src/client/index.ts';

const outDir = process.argv[2];
if (!outDir) throw new Error('usage: bun scripts/legacy-db/build.ts <outDir>');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const dbPath = join(outDir, 'dstp.db');

const NETWORK = 'dstp-legacy';
const ADMIN = 'legacy-fixture-admin-token-0123456789';
const NODE_KEY = '11'.repeat(32);
const key = (n: number) => keyFromSecret('ed25519', n.toString(16).padStart(2, '0').repeat(32));
const owner = key(0x21);
const writers = [key(0x31), key(0x32), key(0x33)];

const proc = Bun.spawn([process.execPath, 'src/runtime/bun.ts'], {
  cwd: join(import.meta.dirname, '..', '..'),
  env: {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PORT: '0',
    HOST: '127.0.0.1',
    DSTP_DATABASE_URL: `file:${dbPath}`,
    DSTP_RATE_LIMIT: '0',
    DSTP_SENDER_RATE_LIMIT: '0',
    DSTP_NETWORK: NETWORK,
    DSTP_NODE_KEY: NODE_KEY,
    DSTP_ADMIN_TOKEN: ADMIN,
    DSTP_ROUND_INTERVAL_MS: '3600000', // rounds only when asked (POST /v1/leader/tick)
    DSTP_LOG: 'error',
    DSTP_OTS_CALENDARS: 'none',
  },
  stdout: 'pipe',
  stderr: 'inherit',
});
const url = await listening(proc.stdout as ReadableStream<Uint8Array>);

async function http(method: string, path: string, json?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

async function listening(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`node exited before listening: ${buf}`);
    buf += new TextDecoder().decode(value);
    const m = /listening on (http:\/\/\S+)/.exec(buf);
    if (m) {
      reader.releaseLock();
      void (stream as ReadableStream<Uint8Array>).pipeTo(new WritableStream());
      return m[1]!;
    }
  }
}

const nodeKey = (await http('GET', '/v1/info')).body.publicKey as string;
const subtrees: { id: string; keys: string[] }[] = [];

async function create(name: string, program: string, config: unknown, genesis: { key: string; value: unknown }[], keys: string[]) {
  const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name, program, config, mode: { type: 'poa', authority: nodeKey }, genesis } as never);
  const r = await http('POST', '/v1/subtrees', signSubtreeRequest(spec, [owner]));
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  subtrees.push({ id: r.body.id, keys });
  return r.body.id as string;
}

const nonces = new Map<string, number>();
async function send(subtree: string, w: (typeof writers)[number], call: string, args: Record<string, unknown>) {
  const n = nonces.get(subtree + w.publicKey) ?? 0;
  nonces.set(subtree + w.publicKey, n + 1);
  const tx = signTransaction({ network: NETWORK, subtree, key: w, nonce: n, call, args } as never);
  const r = await http('POST', '/v1/transactions', tx.envelope);
  if (r.status !== 202) throw new Error(`tx: ${r.status} ${JSON.stringify(r.body)}`);
}

/** One round of every subtree with pending transactions. */
async function round() {
  const r = await http('POST', '/v1/leader/tick');
  if (r.status !== 200) throw new Error(`tick: ${r.status} ${JSON.stringify(r.body)}`);
}

const kvKeys = Array.from({ length: 24 }, (_, i) => `k${i}`);
const a = await create('alpha', 'kv', { writers: 'any' }, [{ key: 'kv/k0', value: 'genesis' }], [...kvKeys.slice(0, 10).map((k) => `kv/${k}`), 'kv/never']);
const b = await create('beta', 'kv', { writers: 'any' }, [], ['kv/k0', 'kv/k1', 'kv/k2', 'kv/never']);
const balances = Object.fromEntries(writers.map((w, i) => [w.publicKey, BigInt(1000 * (i + 1))]));
const c = await create('gamma', 'token', { symbol: 'LEG', decimals: 0, minter: owner.publicKey }, tokenGenesis(balances) as never, [
  ...writers.map((w) => `balance/${w.publicKey}`),
  `balance/${owner.publicKey}`,
]);

// Rounds that add, overwrite and delete keys, so leaves move down and back up and subtrees collapse.
for (let r = 0; r < 6; r++) {
  for (let i = 0; i < kvKeys.length; i++) {
    const k = kvKeys[i]!;
    if ((i + r) % 5 === 0) await send(a, writers[i % 3]!, 'delete', { key: k });
    else if ((i * 7 + r) % 3 !== 0) await send(a, writers[i % 3]!, 'set', { key: k, value: { r, i } });
  }
  if (r % 2 === 0) await send(b, writers[r % 3]!, 'set', { key: `k${r % 3}`, value: r });
  else await send(b, writers[r % 3]!, 'delete', { key: `k${(r + 1) % 3}` });
  await send(c, writers[r % 3]!, 'transfer', { to: writers[(r + 1) % 3]!.publicKey, amount: String(10 + r) });
  await round();
  if (r === 3) {
    const cp = await http('POST', '/v1/checkpoints');
    if (cp.status >= 300) throw new Error(`checkpoint: ${cp.status} ${JSON.stringify(cp.body)}`);
  }
}

const expected: { subtree: string; key: string; height: number; status: number; body: unknown }[] = [];
for (const s of subtrees) {
  const head = (await http('GET', `/v1/subtrees/${s.id}`)).body.height as number;
  for (let h = 0; h <= head; h++) {
    for (const k of s.keys) {
      const r = await http('GET', `/v1/subtrees/${s.id}/state/${k}?height=${h}`);
      expected.push({ subtree: s.id, key: k, height: h, status: r.status, body: r.body });
    }
  }
}

proc.kill('SIGTERM');
await proc.exited;
const db = createClient({ url: `file:${dbPath}` });
await db.execute('PRAGMA wal_checkpoint(TRUNCATE)');
await db.execute('VACUUM');
await db.execute('PRAGMA journal_mode = DELETE');
db.close();
rmSync(`${dbPath}-wal`, { force: true });
rmSync(`${dbPath}-shm`, { force: true });
writeFileSync(`${dbPath}.gz`, gzipSync(readFileSync(dbPath), { level: 9 }));
rmSync(dbPath);
const json = JSON.stringify({ network: NETWORK, nodeKey: NODE_KEY, admin: ADMIN, subtrees, expected }) + '\n';
writeFileSync(join(outDir, 'expected.json.gz'), gzipSync(json, { level: 9 }));
console.log(`wrote ${dbPath} and ${expected.length} expected answers`);
