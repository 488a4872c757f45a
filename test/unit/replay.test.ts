import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { DstpError } from '../../src/core/errors.ts';
import { EMPTY_HASH, sha256 } from '../../src/core/hash.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import { jcs, type JsonValue } from '../../src/core/jcs.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { executeAndCommitRound, replay, type ReplayRoundInput } from '../../src/core/replay.ts';
import { genesisHeader, nextHeader, type RoundHeader } from '../../src/core/round.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { MemoryValueStore, readState } from '../../src/core/state-reader.ts';
import { parseSubtreeRequest, subtreeId, subtreeProgram, type SubtreeSpec } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import type { Tx } from '../../src/core/tx.ts';
import { alice, bob, carol, dave, identified, makeTx, NETWORK, type Party } from './core-fixtures.ts';

/**
 * SPEC §4's root written straight from its recursive definition, sharing nothing with the tree
 * module: the hash of a set of leaves at depth d is EMPTY, the lone leaf, or inner(left, right).
 */
function referenceRoot(pairs: Iterable<[string, JsonValue]>): Uint8Array {
  const leaves = [...pairs].map(([k, v]) => ({ path: sha256(utf8(k)), valueHash: sha256(utf8(jcs(v))) }));
  const bit = (p: Uint8Array, i: number) => (p[i >> 3]! >> (7 - (i % 8))) & 1;
  const at = (set: typeof leaves, d: number): Uint8Array => {
    if (set.length === 0) return new Uint8Array(32);
    if (set.length === 1) return sha256(concatBytes(new Uint8Array([0]), set[0]!.path, set[0]!.valueHash));
    const l = at(set.filter((x) => bit(x.path, d) === 0), d + 1);
    const r = at(set.filter((x) => bit(x.path, d) === 1), d + 1);
    return sha256(concatBytes(new Uint8Array([1]), l, r));
  };
  return at(leaves, 0);
}

function tokenSpec(genesis: [Party, string][], minter: Party = carol): SubtreeSpec {
  const supply = genesis.reduce((s, [, a]) => s + BigInt(a), 0n);
  return parseSubtreeRequest({
    subtree: {
      v: 1,
      network: NETWORK,
      parent: ROOT_ID_HEX,
      owner: alice.key,
      name: 'seed',
      program: 'token',
      config: { symbol: 'DST', decimals: 0, minter: minter.key },
      mode: { type: 'poa', authority: bob.key },
      genesis: [
        ...genesis.map(([p, a]) => ({ key: `balance/${p.key}`, value: a })),
        ...(supply > 0n ? [{ key: 'supply', value: supply.toString() }] : []),
      ],
    },
    sigs: [],
  }, NATIVE_PROGRAMS).subtree;
}

const idOf = (s: SubtreeSpec) => toHex(subtreeId(s));
const tx = (s: SubtreeSpec, from: Party, nonce: number, call: string, args: Record<string, JsonValue>): Tx =>
  makeTx(from, nonce, call, args, idOf(s));

describe('SPEC §7 seed example', () => {
  const spec = tokenSpec([
    [alice, '10'],
    [bob, '1'],
  ]);
  const transfer = tx(spec, alice, 0, 'transfer', { to: bob.key, amount: '2' });

  test('Alice 10, Bob 1; Alice sends Bob 2 → Alice 8, Bob 3, and the root every node computes', async () => {
    const store = new MemoryNodeStore();
    const values = new MemoryValueStore();
    const out = await replay({ subtree: spec, rounds: [{ txs: [identified(transfer)] }], store, values });
    expect(out.ok).toBe(true);
    expect(out.rounds.map((r) => r.height)).toEqual([0, 1]);
    expect(out.rounds[1]!.receipts).toEqual([{ tx: identified(transfer).id, index: 0, status: 'ok' }]);

    const finalPairs: [string, JsonValue][] = [
      [`balance/${alice.key}`, '8'],
      [`balance/${bob.key}`, '3'],
      ['supply', '11'],
      [`sys/nonce/${alice.key}`, 1],
    ];
    // Independently: the spec's recursive definition, and a fresh tree built from the final pairs.
    expect(out.rounds[1]!.stateRoot).toBe(toHex(referenceRoot(finalPairs)));
    const fresh = await new SparseMerkleTree(new MemoryNodeStore()).apply(EMPTY_HASH, finalPairs.map(([key, value]) => ({ key, value })));
    expect(out.rounds[1]!.stateRoot).toBe(toHex(fresh.root));
    // The genesis root, too.
    expect(out.rounds[0]!.stateRoot).toBe(toHex(referenceRoot(spec.genesis.map((e) => [e.key, e.value]))));

    // Reading the state back from the replayed store gives the balances.
    const tree = new SparseMerkleTree(store);
    const state = await readState(tree, values, fromHex(out.rounds[1]!.stateRoot), finalPairs.map(([k]) => k).concat(`balance/${dave.key}`));
    expect(state.get(`balance/${alice.key}`)).toBe('8');
    expect(state.get(`balance/${bob.key}`)).toBe('3');
    expect(state.get(`sys/nonce/${alice.key}`)).toBe(1);
    expect(state.has(`balance/${dave.key}`)).toBe(true);
    expect(state.get(`balance/${dave.key}`)).toBeUndefined();
  });

  test('headers that match are accepted; every differing field is reported', async () => {
    const first = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: [{ txs: [identified(transfer)] }] });
    const g = genesisHeader({ network: NETWORK, subtree: idOf(spec), stateRoot: first.rounds[0]!.stateRoot, proposer: bob.key, time: 1 });
    const r1 = first.rounds[1]!;
    const h1 = nextHeader(g, { stateRoot: r1.stateRoot, txRoot: r1.txRoot, receiptsRoot: r1.receiptsRoot, txCount: 1, proposer: bob.key, time: 2 });
    const good = await replay({ store: new MemoryNodeStore(), subtree: spec, genesis: g, rounds: [{ header: h1, txs: [identified(transfer)] }] });
    expect(good.ok).toBe(true);
    expect(good.mismatches).toEqual([]);

    const lying: RoundHeader = { ...h1, stateRoot: '00'.repeat(32), txCount: 2, prev: '11'.repeat(32) };
    const bad = await replay({ store: new MemoryNodeStore(), subtree: spec, genesis: g, rounds: [{ header: lying, txs: [identified(transfer)] }] });
    expect(bad.ok).toBe(false);
    expect(bad.mismatches.map((m) => m.field).sort()).toEqual(['prev', 'stateRoot', 'txCount']);
    expect(bad.mismatches.find((m) => m.field === 'stateRoot')).toEqual({ height: 1, field: 'stateRoot', expected: r1.stateRoot, got: '00'.repeat(32) });

    const badGenesis = await replay({ store: new MemoryNodeStore(), subtree: spec, genesis: { ...g, stateRoot: '22'.repeat(32) }, rounds: [] });
    expect(badGenesis.mismatches).toEqual([{ height: 0, field: 'stateRoot', expected: first.rounds[0]!.stateRoot, got: '22'.repeat(32) }]);
  });

  test('input that cannot be this subtree\'s log is refused', async () => {
    const codeOf = async (rounds: ReplayRoundInput[]) => {
      try {
        await replay({ store: new MemoryNodeStore(), subtree: spec, rounds });
      } catch (e) {
        return (e as DstpError).code;
      }
      return 'no error';
    };
    expect(await codeOf([{ txs: [identified({ ...transfer, network: 'other' })] }])).toBe('invalid_round');
    expect(await codeOf([{ txs: [identified({ ...transfer, subtree: 'cd'.repeat(32) })] }])).toBe('invalid_round');
    expect(await codeOf([{ txs: [{ id: 'ee'.repeat(32), tx: transfer }] }])).toBe('invalid_round');
    expect(await codeOf([{ txs: [identified({ ...transfer, nonce: 1 })] }])).toBe('nonce_mismatch');
    expect(await codeOf([{ txs: [identified(transfer)] }, { txs: [identified(transfer)] }])).toBe('nonce_mismatch');
  });
});

describe('executeAndCommitRound', () => {
  test('a kv delete of an absent key changes nothing but the nonce', async () => {
    const spec = parseSubtreeRequest({
      subtree: { v: 1, network: NETWORK, parent: ROOT_ID_HEX, owner: alice.key, name: 'kv', program: 'kv', config: { writers: 'any' }, mode: { type: 'poa', authority: alice.key }, genesis: [{ key: 'kv/a', value: { n: 1 } }] },
      sigs: [],
    }, NATIVE_PROGRAMS).subtree;
    const out = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: [{ txs: [identified(tx(spec, bob, 0, 'delete', { key: 'missing' }))] }] });
    expect(out.rounds[1]!.stateRoot).toBe(toHex(referenceRoot([['kv/a', { n: 1 }], [`sys/nonce/${bob.key}`, 1]])));
  });

  test('an empty round keeps the root and has empty-list tx and receipt roots', async () => {
    const spec = tokenSpec([[alice, '5']]);
    const store = new MemoryNodeStore();
    const values = new MemoryValueStore();
    const tree = new SparseMerkleTree(store);
    const g = await tree.apply(EMPTY_HASH, spec.genesis);
    await store.putMany(g);
    await values.putValues(g.values);
    const { program, config } = subtreeProgram(spec, NATIVE_PROGRAMS);
    const step = await executeAndCommitRound({ tree, values, prevRoot: g.root, program, config, txs: [] });
    expect(step.stateRoot).toEqual(g.root);
    expect(toHex(step.txRoot)).toBe(toHex(sha256(new Uint8Array(0))));
    expect(step.receiptsRoot).toEqual(step.txRoot);
    expect(step.nodes.packed).toEqual([]);
  });
});

describe('replay determinism', () => {
  const parties = [alice, bob, carol, dave];
  const spec = tokenSpec([
    [alice, '10'],
    [bob, '1'],
  ]);
  const opArb = fc.tuple(fc.nat(3), fc.constantFrom('mint', 'transfer', 'burn'), fc.nat(3), fc.bigInt({ min: 0n, max: 12n }));

  function build(ops: [number, string, number, bigint][]) {
    const next = new Map<string, number>();
    return ops.map(([from, call, to, amount]) => {
      const p = parties[from]!;
      const n = next.get(p.key) ?? 0;
      next.set(p.key, n + 1);
      const args: Record<string, JsonValue> = call === 'burn' ? { amount: String(amount) } : { to: parties[to]!.key, amount: String(amount) };
      return identified(tx(spec, p, n, call, args));
    });
  }

  function split<T>(items: T[], cuts: number[]): T[][] {
    const points = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
    const out: T[][] = [];
    let prev = 0;
    for (const p of points) {
      out.push(items.slice(prev, p));
      prev = p;
    }
    out.push(items.slice(prev));
    return out;
  }

  test('same txs → same final state root, whatever the split into rounds; same split → identical rounds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 5 }), async (ops, cutsA, cutsB) => {
        const txs = build(ops);
        const a = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: split(txs, cutsA).map((t) => ({ txs: t })) });
        const b = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: split(txs, cutsB).map((t) => ({ txs: t })) });
        const one = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: [{ txs }] });
        expect(a.rounds.at(-1)!.stateRoot).toBe(one.rounds.at(-1)!.stateRoot);
        expect(b.rounds.at(-1)!.stateRoot).toBe(one.rounds.at(-1)!.stateRoot);
        // Receipts' statuses and codes do not depend on the split either.
        const outcomes = (r: typeof a) => r.rounds.flatMap((x) => x.receipts.map((y) => (y.status === 'ok' ? 'ok' : y.code)));
        expect(outcomes(a)).toEqual(outcomes(one));
        const again = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: split(txs, cutsA).map((t) => ({ txs: t })) });
        expect(again).toEqual(a);
      }),
      { numRuns: 60 },
    );
  });

  test('the final root equals the reference root of the final pairs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 20 }), async (ops) => {
        const txs = build(ops);
        const out = await replay({ store: new MemoryNodeStore(), subtree: spec, rounds: [{ txs }] });
        // Apply the round's writes onto the genesis pairs to get the final set.
        const state = new Map<string, JsonValue>(spec.genesis.map((e) => [e.key, e.value]));
        const step = await (async () => {
          const store = new MemoryNodeStore();
          const values = new MemoryValueStore();
          const tree = new SparseMerkleTree(store);
          const g = await tree.apply(EMPTY_HASH, spec.genesis);
          await store.putMany(g);
          await values.putValues(g.values);
          const { program, config } = subtreeProgram(spec, NATIVE_PROGRAMS);
          return executeAndCommitRound({ tree, values, prevRoot: g.root, program, config, txs });
        })();
        for (const [k, v] of step.writes) {
          if (v === null) state.delete(k);
          else state.set(k, v);
        }
        expect(out.rounds[1]!.stateRoot).toBe(toHex(referenceRoot(state)));
        expect(toHex(step.stateRoot)).toBe(out.rounds[1]!.stateRoot);
      }),
      { numRuns: 60 },
    );
  });
});
