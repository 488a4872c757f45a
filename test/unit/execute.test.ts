import { describe, expect, test } from 'bun:test';
import { DstpError } from '../../src/core/errors.ts';
import { executeRound, loadedState, planReads } from '../../src/core/execute.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { kv } from '../../src/core/programs/kv.ts';
import { token } from '../../src/core/programs/token.ts';
import type { Program, ProgramResult } from '../../src/core/programs/types.ts';
import { alice, bob, carol, identified, makeTx, runRound } from './core-fixtures.ts';

/**
 * A tiny program that misbehaves on request, to drive every path of the executor. It is a
 * program like kv or token (the executor's real input type), not a stand-in for one of ours.
 */
function probe(behave: (state: { get(k: string): JsonValue | undefined }, arg: string) => ProgramResult, declared: string[] = ['probe/x']): Program {
  return {
    name: 'probe',
    calls: ['go'],
    parseConfig: (c) => c,
    checkGenesis: () => {},
    checkCall: (_c, call, args) => {
      if (call !== 'go' || typeof args.what !== 'string') throw new DstpError('invalid_args', 'go {what}');
    },
    reads: () => declared,
    apply: (_c, state, tx) => behave(state, tx.args.what as string),
  };
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('executeRound', () => {
  test('receipts: index in round order, code only on failure; ok ids match the txs', () => {
    const cfg = kv.parseConfig({ writers: [alice.key] });
    const txs = [makeTx(alice, 0, 'set', { key: 'a', value: 1 }), makeTx(bob, 0, 'set', { key: 'a', value: 2 })];
    const r = runRound(kv, cfg, new Map(), txs);
    expect(r.receipts).toEqual([
      { tx: identified(txs[0]!).id, index: 0, status: 'ok' },
      { tx: identified(txs[1]!).id, index: 1, status: 'failed', code: 'unauthorized' },
    ]);
    expect('code' in r.receipts[0]!).toBe(false);
  });

  test('every tx, ok or failed, sets sys/nonce/<sender> to nonce + 1 as a JSON number', () => {
    const cfg = token.parseConfig({ symbol: 'T', decimals: 0, minter: carol.key });
    const r = runRound(token, cfg, new Map(), [
      makeTx(alice, 0, 'transfer', { to: bob.key, amount: '1' }), // insufficient_balance
      makeTx(alice, 1, 'burn', { amount: '0' }), // invalid_amount
    ]);
    expect(r.receipts.every((x) => x.status === 'failed')).toBe(true);
    expect(r.writes.get(`sys/nonce/${alice.key}`)).toBe(2);
    expect([...r.writes.keys()]).toEqual([`sys/nonce/${alice.key}`]);
  });

  test('a nonce that does not follow the stored one aborts the round (the input is not a valid log)', () => {
    const cfg = kv.parseConfig({ writers: 'any' });
    expect(codeOf(() => runRound(kv, cfg, new Map(), [makeTx(alice, 1, 'set', { key: 'a', value: 1 })]))).toBe('nonce_mismatch');
    const state = new Map<string, JsonValue>([[`sys/nonce/${alice.key}`, 4]]);
    expect(codeOf(() => runRound(kv, cfg, state, [makeTx(alice, 3, 'set', { key: 'a', value: 1 })]))).toBe('nonce_mismatch');
    expect(runRound(kv, cfg, state, [makeTx(alice, 4, 'set', { key: 'a', value: 1 })]).writes.get(`sys/nonce/${alice.key}`)).toBe(5);
  });

  test('a call that fails checkCall in a replayed log fails with that code and still consumes the nonce', () => {
    const cfg = kv.parseConfig({ writers: 'any' });
    const r = runRound(kv, cfg, new Map(), [makeTx(alice, 0, 'set', { key: '' , value: 1 }), makeTx(alice, 1, 'frobnicate', {})]);
    expect(r.receipts.map((x) => (x.status === 'failed' ? x.code : 'ok'))).toEqual(['invalid_args', 'unknown_call']);
    expect(r.after.get(`sys/nonce/${alice.key}`)).toBe(2);
  });

  test('writing sys/ fails with forbidden_key and discards all of that tx\'s writes', () => {
    const p = probe(() => ({ ok: true, writes: new Map<string, JsonValue | null>([['probe/x', 1], [`sys/nonce/${bob.key}`, 99]]) }));
    const r = runRound(p, {}, new Map(), [makeTx(alice, 0, 'go', { what: 'x' })]);
    expect(r.receipts[0]).toMatchObject({ status: 'failed', code: 'forbidden_key' });
    expect([...r.writes]).toEqual([[`sys/nonce/${alice.key}`, 1]]);
  });

  test('a program that throws fails the tx with program_error, deterministically', () => {
    const p = probe((_s, what) => {
      if (what === 'boom') throw new TypeError('boom');
      return { ok: true, writes: new Map([['probe/x', what]]) };
    });
    const txs = [makeTx(alice, 0, 'go', { what: 'boom' }), makeTx(alice, 1, 'go', { what: 'fine' })];
    const a = runRound(p, {}, new Map(), txs);
    const b = runRound(p, {}, new Map(), txs);
    expect(a.receipts.map((x) => x.status)).toEqual(['failed', 'ok']);
    expect(a.receipts[0]).toMatchObject({ code: 'program_error' });
    expect(b).toEqual(a);
  });

  test('malformed program output becomes program_error: bad failure code, non-JSON value, bad key', () => {
    const outputs: ProgramResult[] = [
      { ok: false, code: 'Not A Code' },
      { ok: true, writes: new Map<string, JsonValue | null>([['probe/x', Number.NaN]]) },
      { ok: true, writes: new Map<string, JsonValue | null>([['', 1]]) },
      { ok: true, writes: new Map<string, JsonValue | null>([['k'.repeat(513), 1]]) },
    ];
    for (const out of outputs) {
      const r = runRound(probe(() => out), {}, new Map(), [makeTx(alice, 0, 'go', { what: 'x' })]);
      expect(r.receipts[0]).toMatchObject({ status: 'failed', code: 'program_error' });
    }
  });

  test('a program reading an undeclared key aborts the round with undeclared_read', () => {
    const p = probe((s) => ({ ok: true, writes: new Map([['probe/x', s.get('probe/secret') ?? 0]]) }));
    expect(codeOf(() => runRound(p, {}, new Map(), [makeTx(alice, 0, 'go', { what: 'x' })]))).toBe('undeclared_read');
  });

  test('…even when the program swallows the exception', () => {
    const p = probe((s) => {
      let v: JsonValue = 0;
      try {
        v = s.get('probe/secret') ?? 0;
      } catch {
        // a careless program hides the error and goes on
      }
      return { ok: true, writes: new Map([['probe/x', v]]) };
    });
    expect(codeOf(() => runRound(p, {}, new Map(), [makeTx(alice, 0, 'go', { what: 'x' })]))).toBe('undeclared_read');
  });

  test('a key declared by another tx of the round is still undeclared for this one', () => {
    // tx 0 declares probe/x; tx 1 declares nothing but reads probe/x.
    let calls = 0;
    const p: Program = {
      ...probe(() => ({ ok: true, writes: new Map() })),
      reads: () => (calls++ === 0 ? ['probe/x'] : []),
      apply: (_c, s, tx) => (tx.nonce === 1 ? (s.get('probe/x'), { ok: true, writes: new Map() }) : { ok: true, writes: new Map() }),
    };
    const txs = [makeTx(alice, 0, 'go', { what: 'a' }), makeTx(alice, 1, 'go', { what: 'b' })].map(identified);
    const state = loadedState(new Map([['probe/x', 1], [`sys/nonce/${alice.key}`, undefined]]));
    calls = 0;
    expect(codeOf(() => executeRound({ program: p, config: {}, txs, state }))).toBe('undeclared_read');
  });

  test('a caller that did not load a planned key is caught by loadedState', () => {
    const cfg = token.parseConfig({ symbol: 'T', decimals: 0, minter: carol.key });
    const txs = [identified(makeTx(alice, 0, 'transfer', { to: bob.key, amount: '1' }))];
    const planned = planReads(token, cfg, txs);
    const partial = new Map<string, JsonValue | undefined>(planned.slice(1).map((k) => [k, undefined])); // forgot the nonce key
    expect(codeOf(() => executeRound({ program: token, config: cfg, txs, state: loadedState(partial) }))).toBe('undeclared_read');
  });
});

describe('planReads', () => {
  test('nonce keys plus program reads, deduplicated, nothing for calls that fail checkCall', () => {
    const cfg = token.parseConfig({ symbol: 'T', decimals: 0, minter: carol.key });
    const txs = [
      makeTx(alice, 0, 'transfer', { to: bob.key, amount: '1' }),
      makeTx(alice, 1, 'transfer', { to: bob.key, amount: '2' }),
      makeTx(carol, 0, 'mint', { to: alice.key, amount: '2' }),
      makeTx(bob, 0, 'transfer', { to: 'not-a-key', amount: '1' }),
    ].map(identified);
    expect(planReads(token, cfg, txs).sort()).toEqual(
      [
        `sys/nonce/${alice.key}`,
        `balance/${alice.key}`,
        `balance/${bob.key}`,
        `sys/nonce/${carol.key}`,
        'supply',
        `sys/nonce/${bob.key}`,
      ].sort(),
    );
  });
});
