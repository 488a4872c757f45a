import { describe, expect, test } from 'bun:test';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { EMPTY_HASH, type Hash32 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import { jcs, type JsonValue } from '../../src/core/jcs.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { CachedNodeStore } from '../../src/store/cached-node-store.ts';
import { TreeFixture } from './smt-helpers.ts';

const universe = Array.from({ length: 14 }, (_, i) => `k/${i}`);
const valueArb = fc.jsonValue({ maxDepth: 2 }).filter((v) => v !== null) as fc.Arbitrary<JsonValue>;

describe('SparseMerkleTree.getValueHashes', () => {
  for (const [name, store] of [
    ['cached store', () => new CachedNodeStore(new MemoryNodeStore())],
    ['async store', () => new MemoryNodeStore()],
  ] as const) {
    test(`${name}: each key's value hash (H(jcs(value))) or null, for any order, duplicates and absent keys`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 13 }), fc.option(valueArb, { nil: null })), { maxLength: 10 }), {
            minLength: 1,
            maxLength: 6,
          }),
          fc.array(fc.integer({ min: 0, max: 13 }), { maxLength: 20 }),
          async (batches, asked) => {
            const f = new TreeFixture(store());
            const model = new Map<string, JsonValue>();
            let root: Hash32 = EMPTY_HASH;
            for (const batch of batches) {
              const writes = batch.map(([i, value]) => ({ key: universe[i]!, value }));
              root = await f.write(root, writes);
              for (const w of writes) (w.value === null ? model.delete(w.key) : model.set(w.key, w.value));
              const keys = asked.map((i) => universe[i]!);
              const got = await f.tree.getValueHashes(root, keys);
              expect(got.map((h) => (h === null ? null : toHex(h)))).toEqual(
                keys.map((k) => (model.has(k) ? toHex(nobleSha256(utf8(jcs(model.get(k)!)))) : null)),
              );
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  test('an empty tree and an empty key list', async () => {
    const f = new TreeFixture();
    expect(await f.tree.getValueHashes(EMPTY_HASH, ['a', 'b'])).toEqual([null, null]);
    const root = await f.write(EMPTY_HASH, [{ key: 'a', value: 1 }]);
    expect(await f.tree.getValueHashes(root, [])).toEqual([]);
  });
});
