/**
 * The tree's storage layout at scale, in one process on a real libSQL file (synchronous=FULL):
 * builds a tree in batches through the node's own parts (SparseMerkleTree over CachedNodeStore over
 * LibsqlNodeStore; each batch's nodes committed in one write transaction, then remembered by the
 * cache, as the leader does), then reads proofs from a cold store. Prints per-batch apply and
 * commit times early and late (as the file outgrows the page cache), the database size, and cold
 * and warm proofs/s.
 *
 * Written against the node-store API of both layouts (hash-keyed before migration 0010, numbered
 * after), so the same file runs in a checkout of either for an interleaved comparison.
 * Run: `bun bench/store-layout.ts`. Env: LAYOUT_BATCHES (60), LAYOUT_BATCH (5000 writes; half new
 * keys, half overwrites), LAYOUT_PROOFS (2000), LAYOUT_DIR (temp).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMPTY_HASH } from '../src/core/hash.ts';
import { SparseMerkleTree } from '../src/core/smt/tree.ts';
import { CachedNodeStore } from '../src/store/cached-node-store.ts';
import { openDatabase } from '../src/store/db.ts';
import { LibsqlNodeStore, insertNodes } from '../src/store/node-store.ts';

const env = (k: string, d: number) => Number(process.env[k] ?? d);
const BATCHES = env('LAYOUT_BATCHES', 60);
const BATCH = env('LAYOUT_BATCH', 5000);
const PROOFS = env('LAYOUT_PROOFS', 2000);
const dir = mkdtempSync(join(process.env.LAYOUT_DIR ?? tmpdir(), 'dstp-layout-'));
const url = `file:${join(dir, 'dstp.db')}`;

/** What a batch hands the store: the result itself in the numbered layout, its packed nodes before. */
type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const forStore = (r: Any): Any => ('rootRef' in r ? r : r.packed);
const forCache = (r: Any): Any => ('rootRef' in r ? r : r.nodes);

let x = 2463534242;
const rand = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);

try {
  const db = await openDatabase({ url });
  const cache = new CachedNodeStore(new LibsqlNodeStore(db));
  const tree = new SparseMerkleTree(cache);
  let root = EMPTY_HASH;
  let keys = 0;
  const applyMs: number[] = [];
  const commitMs: number[] = [];
  let nodes = 0;
  for (let b = 0; b < BATCHES; b++) {
    const writes = Array.from({ length: BATCH }, (_, i) => {
      const key = i % 2 === 0 || keys === 0 ? `acct/${keys++}` : `acct/${Math.floor(rand() * keys)}`;
      return { key, value: { b, i } };
    });
    let t = performance.now();
    const r = await tree.apply(root, writes);
    applyMs.push(performance.now() - t);
    t = performance.now();
    await db.write(async (tx) => {
      await insertNodes(tx, forStore(r));
    });
    commitMs.push(performance.now() - t);
    cache.remember(forCache(r));
    for (const p of r.packed) nodes += p.count;
    root = r.root;
  }
  const q = async (sql: string) => Number((await db.read.execute(sql)).rows[0]![0]);
  const bytes = (await q('PRAGMA page_count')) * (await q('PRAGMA page_size'));
  const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const head = Math.min(10, BATCHES);
  console.log(`batches: ${BATCHES} × ${BATCH} writes, ${keys} keys, ${nodes} nodes written`);
  console.log(`apply ms/batch: first ${head} ${avg(applyMs.slice(0, head)).toFixed(1)}, last ${head} ${avg(applyMs.slice(-head)).toFixed(1)}`);
  console.log(`commit ms/batch: first ${head} ${avg(commitMs.slice(0, head)).toFixed(1)}, last ${head} ${avg(commitMs.slice(-head)).toFixed(1)}, all ${avg(commitMs).toFixed(1)}`);
  console.log(`db: ${(bytes / 1e6).toFixed(1)} MB, ${(bytes / nodes).toFixed(0)} B per node written`);
  await db.close();

  // Proofs from a fresh process's view: a new connection and no node cache, then warm.
  const db2 = await openDatabase({ url });
  const cold = new SparseMerkleTree(new LibsqlNodeStore(db2));
  const ask = Array.from({ length: PROOFS }, () => `acct/${Math.floor(rand() * keys)}`);
  let t = performance.now();
  for (const k of ask) await cold.prove(root, k);
  const coldPerSec = (PROOFS * 1000) / (performance.now() - t);
  const warm = new SparseMerkleTree(new CachedNodeStore(new LibsqlNodeStore(db2)));
  for (const k of ask) await warm.prove(root, k);
  t = performance.now();
  for (const k of ask) await warm.prove(root, k);
  const warmPerSec = (PROOFS * 1000) / (performance.now() - t);
  console.log(`proofs/s: cold (no cache) ${coldPerSec.toFixed(0)}, warm cache ${warmPerSec.toFixed(0)}`);
  await db2.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
