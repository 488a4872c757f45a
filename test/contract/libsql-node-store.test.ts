import { afterAll, describe, expect, test } from 'bun:test';
import { sha256 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import type { StoredNode } from '../../src/core/smt/node-store.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { EMPTY_HASH, SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { CachedNodeStore, Lru } from '../../src/store/cached-node-store.ts';
import type { Database } from '../../src/store/database.ts';
import { LibsqlNodeStore, NODE_CHUNK } from '../../src/store/node-store.ts';
import { openTemp, tempDir } from '../integration/store-helpers.ts';
import { runNodeStoreContract } from './node-store.contract.ts';

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
  test(`more hashes than one query chunk (${NODE_CHUNK}) keep their order, with repeats across chunks`, async () => {
    const store = new LibsqlNodeStore(await freshDb());
    const ns = Array.from({ length: NODE_CHUNK * 2 + 37 }, (_, i) => node(1000 + i));
    await store.putMany(ns);
    const ask = [...ns].reverse().map((n) => n.hash);
    ask.splice(NODE_CHUNK - 1, 0, ns[0]!.hash, node(5).hash); // a repeat and a gap across the boundary
    const got = await store.getMany(ask);
    expect(got.length).toBe(ask.length);
    got.forEach((b, i) => {
      if (i === NODE_CHUNK) expect(b).toBeUndefined();
      else expect(Array.from(sha256(b!))).toEqual(Array.from(ask[i]!));
    });
  });

  test('nodes written inside a write transaction exist only if it commits', async () => {
    const db = await freshDb();
    const store = new LibsqlNodeStore(db);
    const a = node(1);
    const b = node(2);
    await expect(
      db.write(async (tx) => {
        await store.putMany([a], tx);
        expect((await store.getMany([a.hash], tx))[0]).toBeDefined(); // visible inside
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await store.getMany([a.hash])).toEqual([undefined]);
    await db.write((tx) => store.putMany([b], tx));
    expect((await store.getMany([b.hash]))[0]).toBeDefined();
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

  test('the rows are keyed by the raw 32-byte hash', async () => {
    const db = await freshDb();
    await new LibsqlNodeStore(db).putMany([node(5)]);
    const rs = await db.read.execute('SELECT length(hash), length(bytes), typeof(hash) FROM smt_nodes');
    expect(rs.rows[0]![0]).toBe(32);
    expect(rs.rows[0]![1]).toBe(65);
    expect(rs.rows[0]![2]).toBe('blob');
  });
});

describe('CachedNodeStore', () => {
  test('serves repeats from memory and loads only misses', async () => {
    const db = await freshDb();
    const inner = new LibsqlNodeStore(db);
    const ns = Array.from({ length: 10 }, (_, i) => node(200 + i));
    await inner.putMany(ns);
    const cached = new CachedNodeStore(inner, { maxNodes: 100 });
    await cached.getMany(ns.slice(0, 5).map((n) => n.hash));
    expect(cached.misses).toBe(5);
    const got = await cached.getMany(ns.map((n) => n.hash));
    expect(cached.hits).toBe(5);
    expect(cached.misses).toBe(10);
    for (let i = 0; i < ns.length; i++) expect(Array.from(got[i]!)).toEqual(Array.from(ns[i]!.bytes));
  });

  test('an unknown hash is not remembered as missing', async () => {
    const db = await freshDb();
    const inner = new LibsqlNodeStore(db);
    const cached = new CachedNodeStore(inner);
    const n = node(300);
    expect(await cached.getMany([n.hash])).toEqual([undefined]);
    await inner.putMany([n]); // written behind the cache's back, e.g. by a round commit
    expect(Array.from((await cached.getMany([n.hash]))[0]!)).toEqual(Array.from(n.bytes));
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
    const db = await freshDb();
    const inner = new LibsqlNodeStore(db);
    const ns = Array.from({ length: 600 }, (_, i) => node(1000 + i));
    await inner.putMany(ns);
    const cached = new CachedNodeStore(inner, { maxNodes: 100 });
    const hot = ns[0]!;
    for (let i = 0; i < ns.length; i += 10) {
      const got = await cached.getMany([hot.hash, ...ns.slice(i, i + 10).map((n) => n.hash)]);
      expect(Array.from(got[0]!)).toEqual(Array.from(hot.bytes));
      for (let j = 0; j < 10; j++) expect(Array.from(got[j + 1]!)).toEqual(Array.from(ns[i + j]!.bytes));
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
    expect(Array.from((await cached.getMany([ns[1]!.hash]))[0]!)).toEqual(Array.from(ns[1]!.bytes));
    expect(cached.misses).toBe(misses + 1);
  });

  test('a malformed row from the database is handed on but never cached', async () => {
    const db = await freshDb();
    const bad = node(7);
    await db.write((tx) => tx.execute({ sql: 'INSERT INTO smt_nodes (hash, bytes) VALUES (?, ?)', args: [bad.hash, bad.bytes.subarray(0, 64)] }));
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
        await store.putMany(a.packed, tx);
        await store.putValues(a.values, tx);
      });
      const b = await inMemory.apply(rootMem, writes);
      await memory.putMany(b.nodes);
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
    const rows = Number((await db.read.execute('SELECT count(*) FROM smt_nodes')).rows[0]![0]);
    expect(rows).toBe(memory.size);
  });
});
