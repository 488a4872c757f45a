/**
 * Store throughput on a real libSQL file. Run: `./node_modules/.bin/bun bench/store.ts [dir]`
 * (also `node --import tsx bench/store.ts`). Prints:
 * - accepts/s through GroupCommitter with 64 concurrent callers, synchronous=FULL vs NORMAL, and
 *   with one caller (every accept its own commit, for the cost of one durable commit);
 * - tree node putMany / getMany rows/s: real batches of 5000 keys from tree.apply, read back by
 *   id (cold: from SQLite; warm: CachedNodeStore by hash);
 * - one commitRound of 5000 transactions with 40 000 new nodes (how long accepts wait behind it).
 * Takes ~20-40 s. The database lives in `dir` (default: the OS temp folder); use a folder on the
 * disk you care about, since tmpfs makes fsync free.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../src/core/hash.ts';
import { toHex, utf8 } from '../src/core/hex.ts';
import { EMPTY_HASH } from '../src/core/hash.ts';
import { NO_NEW_NODES, NO_REF, newRef, type NewNodes } from '../src/core/smt/node-store.ts';
import { SparseMerkleTree } from '../src/core/smt/tree.ts';
import { CachedNodeStore } from '../src/store/cached-node-store.ts';
import type { Database, Synchronous } from '../src/store/database.ts';
import { openDatabase } from '../src/store/db.ts';
import { GroupCommitter } from '../src/store/group-commit.ts';
import { acquireLease } from '../src/store/lease.ts';
import { LibsqlNodeStore } from '../src/store/node-store.ts';
import { commitRound } from '../src/store/rounds.ts';
import { createSubtree } from '../src/store/subtrees.ts';
import type { AcceptItem } from '../src/store/tx-log.ts';

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';
const root = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'dstp-bench-store-'));
let dbCount = 0;

const hex = (s: string) => toHex(sha256(utf8(s)));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);

async function open(synchronous: Synchronous): Promise<Database> {
  return openDatabase({ url: `file:${join(root, `db${dbCount++}`, 'bench.db')}`, synchronous });
}

async function subtree(db: Database): Promise<string> {
  const id = hex('bench-subtree');
  await createSubtree(db, {
    row: { id, parent: '00'.repeat(32), owner: 'ed25519:' + 'aa'.repeat(32), name: 'bench', program: 'kv', config: {}, mode: {}, request: {}, createdAt: 0 },
    genesisRound: { hash: hex('r0'), header: {}, signatures: [], stateRoot: hex('root0') },
    nodes: NO_NEW_NODES,
    values: [],
  });
  return id;
}

function item(subtreeId: string, senderNo: number, nonce: number): AcceptItem {
  const sender = `ed25519:${hex(`s${senderNo}`)}`;
  const tx = { v: 1 as const, network: 'bench', subtree: subtreeId, sender, nonce, call: 'set', args: { key: `k${nonce}`, value: 'x'.repeat(40) } };
  return { id: hex(`${senderNo}/${nonce}`), subtree: subtreeId, sender, nonce, envelope: { tx, sig: 'ab'.repeat(64) } };
}

/** `callers` loops, each with its own sender, sending the next nonce when the last was answered. */
async function acceptRun(synchronous: Synchronous, callers: number, ms: number) {
  const db = await open(synchronous);
  const id = await subtree(db);
  const gc = new GroupCommitter(db);
  const latencies: number[] = [];
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      for (let nonce = 0; performance.now() < deadline; nonce++) {
        const t = performance.now();
        const r = await gc.accept(item(id, c, nonce));
        if (r.status !== 'accepted') throw new Error(`unexpected ${r.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - start;
  await db.close();
  latencies.sort((a, b) => a - b);
  return {
    perSec: (gc.stats.items * 1000) / elapsed,
    groups: gc.stats.groups,
    avgGroup: gc.stats.items / gc.stats.groups,
    p50: latencies[Math.floor(latencies.length * 0.5)]!,
    p99: latencies[Math.floor(latencies.length * 0.99)]!,
  };
}

/** `n` made-up inner nodes as one batch (the first is its root), for the commit timing. */
function nodes(n: number, salt: string): NewNodes {
  const hashes = new Uint8Array(n * 32);
  const bytes = new Uint8Array(n * 65);
  for (let i = 0; i < n; i++) {
    bytes[i * 65] = 1;
    bytes.set(sha256(utf8(`${salt}${i}`)), i * 65 + 1);
    bytes.set(sha256(utf8(`${i}${salt}`)), i * 65 + 33);
    hashes.set(sha256(bytes.subarray(i * 65, i * 65 + 65)), i * 32);
  }
  return { root: hashes.slice(0, 32), rootRef: newRef(0), packed: [{ count: n, hashes, bytes, kids: new Float64Array(n * 2).fill(NO_REF) }] };
}

console.log(`runtime: ${runtime}  dir: ${root}`);

// Alternate the two settings and keep each one's best run: checkpoints and the host's disk cache
// make single runs noisy, and the question is what each setting can do.
const acceptMs = 3000;
const best = (a: Awaited<ReturnType<typeof acceptRun>>, b: typeof a) => (b.perSec > a.perSec ? b : a);
let full = await acceptRun('FULL', 64, acceptMs);
let normal = await acceptRun('NORMAL', 64, acceptMs);
full = best(full, await acceptRun('FULL', 64, acceptMs));
normal = best(normal, await acceptRun('NORMAL', 64, acceptMs));
const single = await acceptRun('FULL', 1, 1500);
const line = (name: string, r: typeof full) =>
  console.log(
    `${name.padEnd(50)} ${fmt(r.perSec)} accepts/s  groups ${String(r.groups).padStart(6)}  avg ${r.avgGroup.toFixed(1).padStart(6)}/group  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`,
  );
line('accept, 64 callers, synchronous=FULL (best of 2)', full);
line('accept, 64 callers, synchronous=NORMAL (best of 2)', normal);
line('accept, 1 caller, synchronous=FULL', single);
console.log(`FULL / NORMAL throughput ratio (64 callers): ${(full.perSec / normal.perSec).toFixed(2)}`);

{
  const db = await open('FULL');
  const store = new LibsqlNodeStore(db);
  const tree = new SparseMerkleTree(store);
  let treeRoot = EMPTY_HASH;
  let putMs = 0;
  let rows = 0;
  for (let b = 0; b < 20; b++) {
    const r = await tree.apply(treeRoot, Array.from({ length: 5000 }, (_, i) => ({ key: `k/${(b * 5000 + i * 7919) % 60_000}`, value: b })));
    const t0 = performance.now();
    await store.putMany(r);
    putMs += performance.now() - t0;
    for (const p of r.packed) rows += p.count;
    treeRoot = r.root;
  }
  console.log(`${'node putMany (tree batches of 5000 keys)'.padEnd(40)} ${fmt((rows * 1000) / putMs)} rows/s`);

  // Random reads in tree-level-sized batches, by id (as the tree asks for them).
  const all = (await db.read.execute('SELECT id, rec FROM smt_tree')).rows.map((r) => ({
    id: Number(r[0]),
    hash: sha256(new Uint8Array(r[1] as ArrayBuffer).subarray(0, 65)),
  }));
  const ask: { hashes: Uint8Array[]; ids: number[] }[] = [];
  let x = 12345;
  for (let b = 0; b < 200; b++) {
    const batch: typeof ask[number] = { hashes: [], ids: [] };
    for (let i = 0; i < 500; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      batch.hashes.push(all[x % all.length]!.hash);
      batch.ids.push(all[x % all.length]!.id);
    }
    ask.push(batch);
  }
  let t = performance.now();
  for (const batch of ask) await store.getMany(batch.hashes, batch.ids);
  const getPerSec = (ask.length * 500 * 1000) / (performance.now() - t);
  console.log(`${'node getMany (500 random per call)'.padEnd(40)} ${fmt(getPerSec)} rows/s`);

  const cached = new CachedNodeStore(store, { maxNodes: 300_000 });
  for (const batch of ask) await cached.getMany(batch.hashes, batch.ids); // warm
  t = performance.now();
  for (const batch of ask) await cached.getMany(batch.hashes, batch.ids);
  const warmPerSec = (ask.length * 500 * 1000) / (performance.now() - t);
  console.log(`${'node getMany, CachedNodeStore warm'.padEnd(40)} ${fmt(warmPerSec)} rows/s`);
  await db.close();
}

{
  const db = await open('FULL');
  const id = await subtree(db);
  const gc = new GroupCommitter(db);
  const items = Array.from({ length: 5000 }, (_, i) => item(id, i % 100, Math.floor(i / 100)));
  for (let i = 0; i < items.length; i += 1000) await gc.acceptBatch(items.slice(i, i + 1000));
  const grant = (await acquireLease(db, { name: 'leader', holder: 'bench', ttlMs: 60_000, now: Date.now() }))!;
  const txIds = items.map((x) => x.id);
  const t = performance.now();
  await commitRound(db, {
    subtree: id,
    height: 1,
    hash: hex('r1'),
    header: {},
    signatures: [],
    txIds,
    receipts: txIds.map((tx, index) => ({ tx, index, status: 'ok' as const })),
    stateRoot: hex('root1'),
    nodes: nodes(40_000, 'round'),
    values: Array.from({ length: 5000 }, (_, i) => ({ hash: sha256(utf8(`"${i}"`)), bytes: utf8(`"${i}"`) })),
    events: txIds.map((tx) => ({ type: 'tx.executed', subtree: id, data: { tx } })),
    lease: { name: 'leader', holder: 'bench', token: grant.token },
    now: Date.now(),
  });
  console.log(`${'commitRound: 5000 txs, 40 000 nodes'.padEnd(40)} ${(performance.now() - t).toFixed(1).padStart(12)} ms`);
  await db.close();
}

rmSync(root, { recursive: true, force: true });
