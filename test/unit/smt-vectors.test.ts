import { describe, expect, test } from 'bun:test';
import { EMPTY_HASH } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import vectors from '../vectors/smt.json' with { type: 'json' };
import { TreeFixture, toWrite, type VectorOp } from './smt-helpers.ts';

interface VectorProof {
  key: string;
  present: boolean | null;
  leaf: { path: string; valueHash: string } | null;
  siblings: string[];
}
interface VectorCase {
  name: string;
  ops: VectorOp[];
  root: string;
  proofs: VectorProof[];
}
const cases = (vectors as { cases: VectorCase[] }).cases;

function finalState(ops: VectorOp[]): Map<string, JsonValue> {
  const m = new Map<string, JsonValue>();
  for (const op of ops) op.op === 'delete' ? m.delete(op.key) : m.set(op.key, op.value as JsonValue);
  return m;
}

describe('smt.json vectors (SPEC §4)', () => {
  for (const c of cases) {
    test(`${c.name}: root from one batch`, async () => {
      const f = new TreeFixture();
      const root = await f.write(EMPTY_HASH, c.ops.map(toWrite));
      expect(toHex(root)).toBe(c.root);
    });

    test(`${c.name}: root from one write per batch`, async () => {
      const f = new TreeFixture();
      let root = EMPTY_HASH;
      for (const op of c.ops) root = await f.write(root, [toWrite(op)]);
      expect(toHex(root)).toBe(c.root);
    });

    test(`${c.name}: root from batches of 7`, async () => {
      const f = new TreeFixture();
      let root = EMPTY_HASH;
      for (let i = 0; i < c.ops.length; i += 7) root = await f.write(root, c.ops.slice(i, i + 7).map(toWrite));
      expect(toHex(root)).toBe(c.root);
    });

    test(`${c.name}: proofs byte-exact and verified`, async () => {
      const f = new TreeFixture();
      const root = await f.write(EMPTY_HASH, c.ops.map(toWrite));
      const state = finalState(c.ops);
      const single = await Promise.all(c.proofs.map((p) => f.tree.prove(root, p.key)));
      const many = await f.tree.proveMany(root, c.proofs.map((p) => p.key));
      for (let i = 0; i < c.proofs.length; i++) {
        const want = c.proofs[i]!;
        const expected = { key: want.key, root: c.root, leaf: want.leaf, siblings: want.siblings };
        expect(single[i]).toEqual(expected);
        expect(many[i]).toEqual(expected);
        expect(state.has(want.key)).toBe(want.present === true);
        if (want.present === true) verifyProof(single[i]!, { key: want.key, value: state.get(want.key)!, root: c.root });
        else verifyProof(single[i]!, { key: want.key, root: c.root });
        expect(want.present === null).toBe(want.leaf === null);
      }
    });
  }
});
