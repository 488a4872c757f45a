import { afterAll, describe, expect, test } from 'bun:test';
import { sha256 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import { NO_REF, readRef, writeRef, type StoredNode } from '../../src/core/smt/node-store.ts';
import { MemoryNodeStore, asNewNodes, nodesOf } from '../helpers/memory-node-store.ts';
import { EMPTY_HASH, SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { CachedNodeStore, Lru } from '../../src/store/cached-node-store.ts';
import type { Database } from '../../src/store/database.ts';
import { LibsqlNodeStore, NODE_CHUNK, insertNodes } from '../../src/store/node-store.ts';
import { openTemp, tempDir } from '../integration/store-helpers.ts';
import { rng, runNodeStoreContract, walkByRefs } from './node-store.contract.ts';

const tmp = tempDir('dstp-nodestore-');
const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
  tmp.cleanup();
});

async function freshDb(): Promise<Database> {
  const db = await openTemp(tmp.url());
  opened.push(db);
  return db;
}

/** A node as the tree stores it: 65 bytes, keyed by their SHA-256. */
function node(seed: number): StoredNode {
  const bytes = new Uint8Array(65);
  bytes[0] = seed % 2;
  new DataView(bytes.buffer).setUint32(1, seed);
  for (let i = 5; i < 65; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return { hash: sha256(bytes), bytes };
}

// The tree's contract for every NodeStore, on a real libSQL file, bare and behind the cache.
runNodeStoreContract('LibsqlNodeStore', async () => new LibsqlNodeStore(await freshDb()));
runNodeStoreContract('CachedNodeStore(LibsqlNodeStore)', async () => new CachedNodeStore(new LibsqlNodeStore(await freshDb()), { maxNodes: 300 }));

describe('LibsqlNodeStore specifics', () => {
  test('a reference is 8 big-endian bytes of ref + 1, the form the migration writes with printf', () => {
    const b = new Uint8Array(8);
    for (const ref of [NO_REF, 0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, 2 ** 53 - 2]) {
      writeRef(b, 0, ref);
      expect(toHex(b)).toBe((ref + 1).toString(16).padStart(16, '0'));
      expect(readRef(b, 0)).toBe(ref);
    }
  });

  test('a batch appends its nodes under the next ids, children before parents, and registers its root', async () => {
    const db = await freshDb();
    const store = new LibsqlNodeStore(db);
    const tree = new SparseMerkleTree(store);
    const a = await tree.apply(EMPTY_HASH, Array.from({ length: 400 }, (_, i) => ({ key: `a/${i}`, value: i })));
    await store.putMany(a);
    const b = await tree.apply(a.root, Array.from({ length: 50 }, (_, i) => ({ key: `a/${i * 3}`, value: -i })));
    await store.putMany(b);
    const na = nodesOf(a).length;
    expect(a.firstId).toBe(1);
    expect(b.firstId).toBe(na + 1);
    const rs = await db.read.execute('SELECT id, rec FROM smt_tree ORDER BY id');
    expect(rs.rows.length).toBe(na + nodesOf(b).length);
    const all = [...nodesOf(a), ...nodesOf(b)];
    rs.rows.forEach((row, i) => {
      const id = Number(row[0]);
      const rec = new Uint8Array(row[1] as ArrayBuffer);
      expect(id).toBe(i + 1);
      expect(toHex(rec.subarray(0, 65))).toBe(toHex(all[i]!.bytes));
      // Leaves keep their 65 bytes; an inner node names older children only.
      expect(rec.length).toBe(rec[0] === 0 ? 65 : 81);
      if (rec[0] === 1) for (const at of [65, 73]) expect(readRef(rec, at)).toBeLessThan(id);
    });
    const roots = await db.read.execute('SELECT hash, node FROM smt_roots ORDER BY node');
    expect(roots.rows.map((r) => [toHex(new Uint8Array(r[0] as ArrayBuffer)), Number(r[1])])).toEqual([
      [toHex(a.root), na],
      [toHex(b.root), na + nodesOf(b).length],
    ]);
  });

  test(`levels wider than one query chunk (${NODE_CHUNK}) read back in order, with repeats`, async () => {
    const store = new LibsqlNodeStore(await freshDb());
    const tree = new SparseMerkleTree(store);
    const r = await tree.apply(EMPTY_HASH, Array.from({ length: NODE_CHUNK * 4 }, (_, i) => ({ key: `w/${i}`, value: i })));
    await store.putMany(r);
    expect(await walkByRefs(store, r.root)).toBe(nodesOf(r).length);
    // Ask by id, reversed, with a repeat across the chunk boundary and the root by hash.
    const ids = Array.from({ length: NODE_CHUNK * 2 + 3 }, (_, i) => r.firstId! + i).reverse();
    ids.splice(NODE_CHUNK - 1, 0, ids[0]!);
    const hashes = ids.map((id) => nodesOf(r)[id - r.firstId!]!.hash);
    const got = await store.getMany([...hashes, r.root], [...ids, NO_REF]);
    got.forEach((b, i) => expect(toHex(sha256(b!.subarray(0, 65)))).toBe(toHex(i < hashes.length ? hashes[i]! : r.root)));
  });

  test('nodes written inside a write transaction exist only if it commits', async () => {
    const db = await freshDb();
    const store = new LibsqlNodeStore(db);
    const tree = new SparseMerkleTree(store);
    const a = await tree.apply(EMPTY_HASH, [{ key: 'x', value: 1 }, { key: 'y', value: 2 }]);
    await expect(
      db.write(async (tx) => {
        await store.putMany(a, tx);
        expect((await store.getMany([a.root], undefined, tx))[0]).toBeDefined(); // visible inside
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await store.getMany([a.root])).toEqual([undefined]);
    expect(Number((await db.read.execute('SELECT count(*) FROM smt_tree')).rows[0]![0])).toBe(0);
    await db.write((tx) => store.putMany(a, tx));
    expect(await walkByRefs(store, a.root)).toBe(3);
  });

  test('values round-trip byte for byte (stored as JSON text)', async () => {
    const db = await freshDb();
    const store = new LibsqlNodeStore(db);
    const texts = ['"8"', '{"a":[1,true,null],"b":"é€😀"}', '"\\u0000"'];
    const values = texts.map((t) => ({ hash: sha256(utf8(t)), bytes: utf8(t) }));
    await store.putValues(values);
    await store.putValues(values.slice(0, 1)); // idempotent
    const got = await store.getValues([values[1]!.hash, sha256(utf8('"x"')), values[0]!.hash, values[2]!.hash]);
    expect(got.map((b) => (b ? new TextDecoder().decode(b) : undefined))).toEqual([texts[1], undefined, texts[0], texts[2]]);
    const raw = await db.read.execute('SELECT json FROM smt_values ORDER BY json');
    expect(raw.rows.map((r) => r[0]).sort()).toEqual([...texts].sort());
  });

  test('the tree behind a small cache, fed like the node feeds it (commit, then remember), matches a memory tree at every root', async () => {
    const db = await freshDb();
    const cache = new CachedNodeStore(new LibsqlNodeStore(db), { maxNodes: 64 });
    const tree = new SparseMerkleTree(cache);
    const memory = new MemoryNodeStore();
    const mirror = new SparseMerkleTree(memory);
    const next = rng(7);
    const keys = Array.from({ length: 120 }, (_, i) => `c/${i}`);
    const roots: Uint8Array[] = [];
    let root = EMPTY_HASH;
    for (let round = 0; round < 25; round++) {
      const writes = Array.from({ length: 1 + Math.floor(next() * 30) }, () => ({ key: keys[Math.floor(next() * keys.length)]!, value: next() < 0.3 ? null : round }));
      const r = await tree.apply(root, writes);
      await db.write((tx) => insertNodes(tx, r));
      cache.remember(r);
      const m = await mirror.apply(roots.length ? roots[roots.length - 1]! : EMPTY_HASH, writes);
      await memory.putMany(m);
      expect(toHex(r.root)).toBe(toHex(m.root));
      root = r.root;
      roots.push(root);
    }
    expect(cache.misses).toBeGreaterThan(0); // the cache was too small: parts came from the database
    const cold = new SparseMerkleTree(new LibsqlNodeStore(db));
    for (const at of roots) {
      if (at.every((x) => x === 0)) continue;
      const want = await mirror.proveMany(at, keys.slice(0, 40));
      expect(await tree.proveMany(at, keys.slice(0, 40))).toEqual(want);
      expect(await cold.proveMany(at, keys.slice(0, 40))).toEqual(want);
    }
  });
});

describe('CachedNodeStore', () => {
  test('serves repeats from memory and loads only misses', async () => {
    const inner = new MemoryNodeStore();
    const ns = Array.from({ length: 10 }, (_, i) => node(200 + i));
    await inner.putMany(asNewNodes(ns));
    const cached = new CachedNodeStore(inner, { maxNodes: 100 });
    await cached.getMany(ns.slice(0, 5).map((n) => n.hash));
    expect(cached.misses).toBe(5);
    const got = await cached.getMany(ns.map((n) => n.hash));
    expect(cached.hits).toBe(5);
    expect(cached.misses).toBe(10);
    for (let i = 0; i < ns.length; i++) expect(Array.from(got[i]!.subarray(0, 65))).toEqual(Array.from(ns[i]!.bytes));
  });

  test('an unknown hash is not remembered as missing', async () => {
    const inner = new MemoryNodeStore();
    const cached = new CachedNodeStore(inner);
    const n = node(300);
    expect(await cached.getMany([n.hash])).toEqual([undefined]);
    await inner.putMany(asNewNodes([n])); // written behind the cache's back, e.g. by a round commit
    expect(Array.from((await cached.getMany([n.hash]))[0]!.subarray(0, 65))).toEqual(Array.from(n.bytes));
  });

  test('values go through the cache too', async () => {
    const db = await freshDb();
    const cached = new CachedNodeStore(new LibsqlNodeStore(db));
    const v = { hash: sha256(utf8('"1"')), bytes: utf8('"1"') };
    await cached.putValues([v]);
    const [b] = await cached.getValues([v.hash]);
    expect(new TextDecoder().decode(b!)).toBe('"1"');
    expect(cached.hits).toBe(1);
  });

  test('a small cache stays bounded, keeps hot nodes, and answers like the store underneath', async () => {
    const inner = new MemoryNodeStore();
    const ns = Array.from({ length: 600 }, (_, i) => node(1000 + i));
    await inner.putMany(asNewNodes(ns));
    const cached = new CachedNodeStore(inner, { maxNodes: 100 });
    const hot = ns[0]!;
    for (let i = 0; i < ns.length; i += 10) {
      const got = await cached.getMany([hot.hash, ...ns.slice(i, i + 10).map((n) => n.hash)]);
      expect(Array.from(got[0]!.subarray(0, 65))).toEqual(Array.from(hot.bytes));
      for (let j = 0; j < 10; j++) expect(Array.from(got[j + 1]!.subarray(0, 65))).toEqual(Array.from(ns[i + j]!.bytes));
      expect(cached.cachedNodes).toBeLessThanOrEqual(100);
    }
    // The hot node and the latest ones answer from memory through the tree's synchronous path,
    // also when the hash sits at an offset inside a larger buffer.
    const recent = [hot, ...ns.slice(-20)];
    const packed = new Uint8Array(recent.length * 40);
    recent.forEach((n, i) => packed.set(n.hash, i * 40 + 8));
    const outBufs: Uint8Array[] = [];
    const outOffs = new Int32Array(recent.length);
    const offs = Int32Array.from(recent.map((_, i) => i * 40 + 8));
    expect(cached.locateCachedMany(recent.map(() => packed), offs, recent.length, outBufs, outOffs)).toBe(-1);
    recent.forEach((n, i) => expect(Array.from(outBufs[i]!.subarray(outOffs[i]!, outOffs[i]! + 65))).toEqual(Array.from(n.bytes)));
    // An evicted node is a miss on that path, and getMany reads it again from the database.
    expect(cached.locateCachedMany([ns[1]!.hash], Int32Array.of(0), 1, [], new Int32Array(1))).toBe(0);
    const misses = cached.misses;
    expect(Array.from((await cached.getMany([ns[1]!.hash]))[0]!.subarray(0, 65))).toEqual(Array.from(ns[1]!.bytes));
    expect(cached.misses).toBe(misses + 1);
  });

  test('a malformed row from the database is handed on but never cached', async () => {
    const db = await freshDb();
    const bad = node(7);
    await db.write(async (tx) => {
      await tx.execute({ sql: 'INSERT INTO smt_tree (id, rec) VALUES (1, ?)', args: [bad.bytes.subarray(0, 64)] });
      await tx.execute({ sql: 'INSERT INTO smt_roots (hash, node) VALUES (?, 1)', args: [bad.hash] });
    });
    const cached = new CachedNodeStore(new LibsqlNodeStore(db));
    expect((await cached.getMany([bad.hash]))[0]!.length).toBe(64);
    expect(cached.cachedNodes).toBe(0);
    expect(cached.locateCachedMany([bad.hash], Int32Array.of(0), 1, [], new Int32Array(1))).toBe(0);
  });

  test('Lru evicts the least recently used entry', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  test('Lru never holds more than its capacity and keeps the most recent half', () => {
    const lru = new Lru<number>(100);
    for (let i = 0; i < 10_000; i++) {
      lru.set(`k${i}`, i);
      if (i % 7 === 0) lru.get('k0'); // a hot key survives generation turnover
      expect(lru.size).toBeLessThanOrEqual(100);
    }
    for (let i = 10_000 - 50; i < 10_000; i++) expect(lru.get(`k${i}`)).toBe(i);
    expect(lru.get('k0')).toBe(0);
  });
});

describe('the tree over libSQL', () => {
  test('packed nodes from tree.apply persist, and the tree reads them back to the same roots and proofs', async () => {
    const db = await freshDb();
    const store = new LibsqlNodeStore(db);
    const memory = new MemoryNodeStore();
    const onDisk = new SparseMerkleTree(store);
    const inMemory = new SparseMerkleTree(memory);
    let rootDisk = EMPTY_HASH;
    let rootMem = EMPTY_HASH;
    for (let batch = 0; batch < 4; batch++) {
      const writes = Array.from({ length: 300 }, (_, i) => ({
        key: `kv/${(i * 7 + batch * 101) % 700}`,
        value: i % 13 === 0 && batch > 0 ? null : { batch, i },
      }));
      const a = await onDisk.apply(rootDisk, writes);
      await db.write(async (tx) => {
        await store.putMany(a, tx);
        await store.putValues(a.values, tx);
      });
      const b = await inMemory.apply(rootMem, writes);
      await memory.putMany(b);
      rootDisk = a.root;
      rootMem = b.root;
      expect(Array.from(rootDisk)).toEqual(Array.from(rootMem));
    }
    for (const key of ['kv/0', 'kv/101', 'kv/699', 'kv/absent']) {
      const proof = await onDisk.prove(rootDisk, key);
      expect(proof).toEqual(await inMemory.prove(rootMem, key));
      const vh = await onDisk.getValueHash(rootDisk, key);
      if (vh) {
        const [bytes] = await store.getValues([vh]);
        expect(Array.from(sha256(bytes!))).toEqual(Array.from(vh));
        verifyProof(proof, { key, root: toHex(rootDisk), value: JSON.parse(new TextDecoder().decode(bytes!)) });
      } else verifyProof(proof, { key, root: toHex(rootDisk) });
    }
    // Numbered, not deduplicated: at least one row per distinct node.
    const rows = Number((await db.read.execute('SELECT count(*) FROM smt_tree')).rows[0]![0]);
    expect(rows).toBeGreaterThanOrEqual(memory.size);
  });
});
