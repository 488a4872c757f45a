import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { DstpError } from '../../src/core/errors.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { programOf, programRegistry } from '../../src/core/programs/registry.ts';
import { kv } from '../../src/core/programs/kv.ts';
import { token, type TokenConfig } from '../../src/core/programs/token.ts';
import { alice, bob, carol, dave, makeTx, mallory, runRound, type Party } from './core-fixtures.ts';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return e.code;
    throw e;
  }
  return 'no error';
}

const bal = (p: Party) => `balance/${p.key}`;
const nonce = (p: Party) => `sys/nonce/${p.key}`;

describe('registry', () => {
  test('the native registry names kv and token, refuses others and prototype names', () => {
    expect(NATIVE_PROGRAMS.names).toEqual(['kv', 'token']);
    expect(programOf(NATIVE_PROGRAMS, 'token')).toBe(token);
    for (const n of ['nope', 'constructor', '__proto__', 'toString']) expect(codeOf(() => programOf(NATIVE_PROGRAMS, n))).toBe('unknown_program');
  });

  test('a registry holds exactly what it is given, sorted, and refuses two programs of one name', () => {
    const onlyKv = programRegistry([kv]);
    expect(onlyKv.names).toEqual(['kv']);
    expect(onlyKv.get('kv')).toBe(kv);
    expect(onlyKv.get('token')).toBeUndefined();
    expect(codeOf(() => programOf(onlyKv, 'token'))).toBe('unknown_program');
    expect(() => programRegistry([kv, { ...kv }])).toThrow('two programs are called "kv"');
  });
});

describe('kv', () => {
  const any = kv.parseConfig({ writers: 'any' });
  const onlyAlice = kv.parseConfig({ writers: [alice.key] });

  test('config: "any" or a distinct list of canonical keys', () => {
    expect(kv.parseConfig({ writers: [alice.key, carol.key] })).toEqual({ writers: [alice.key, carol.key] });
    for (const bad of [
      {},
      { writers: 'all' },
      { writers: [] },
      { writers: [alice.key, alice.key] },
      { writers: ['ed25519:00'] },
      { writers: 'any', extra: 1 },
      null,
    ]) {
      expect(codeOf(() => kv.parseConfig(bad))).toBe('invalid_config');
    }
  });

  test('checkCall: exact args, key length in characters, value not null', () => {
    expect(() => kv.checkCall(any, 'set', { key: 'a', value: { x: [1, 2] } })).not.toThrow();
    expect(() => kv.checkCall(any, 'set', { key: '🙂'.repeat(256), value: 1 })).not.toThrow(); // 256 characters, 512 UTF-16 units
    expect(() => kv.checkCall(any, 'delete', { key: 'a' })).not.toThrow();
    expect(codeOf(() => kv.checkCall(any, 'get', { key: 'a' }))).toBe('unknown_call');
    expect(codeOf(() => kv.checkCall(any, 'set', { key: '', value: 1 }))).toBe('invalid_args');
    expect(codeOf(() => kv.checkCall(any, 'set', { key: 'x'.repeat(257), value: 1 }))).toBe('invalid_args');
    expect(codeOf(() => kv.checkCall(any, 'set', { key: 1, value: 1 }))).toBe('invalid_args');
    expect(codeOf(() => kv.checkCall(any, 'set', { key: 'a' }))).toBe('invalid_args');
    expect(codeOf(() => kv.checkCall(any, 'set', { key: 'a', value: null }))).toBe('invalid_args');
    expect(codeOf(() => kv.checkCall(any, 'delete', { key: 'a', value: 1 }))).toBe('invalid_args');
  });

  test('set writes kv/<key>, delete removes it', () => {
    const r1 = runRound(kv, any, new Map(), [
      makeTx(alice, 0, 'set', { key: 'greeting', value: 'hi' }),
      makeTx(bob, 0, 'set', { key: 'n', value: 5 }),
    ]);
    expect(r1.receipts.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(r1.after.get('kv/greeting')).toBe('hi');
    expect(r1.after.get('kv/n')).toBe(5);
    const r2 = runRound(kv, any, r1.after, [makeTx(alice, 1, 'delete', { key: 'greeting' })]);
    expect(r2.after.has('kv/greeting')).toBe(false);
    expect(r2.after.get('kv/n')).toBe(5);
  });

  test('a sender outside the writer list fails with unauthorized and writes nothing but its nonce', () => {
    const r = runRound(kv, onlyAlice, new Map(), [
      makeTx(mallory, 0, 'set', { key: 'k', value: 1 }),
      makeTx(alice, 0, 'set', { key: 'k', value: 2 }),
    ]);
    expect(r.receipts[0]).toEqual({ tx: r.receipts[0]!.tx, index: 0, status: 'failed', code: 'unauthorized' });
    expect(r.receipts[1]!.status).toBe('ok');
    expect(r.after.get('kv/k')).toBe(2);
    expect(r.after.get(nonce(mallory))).toBe(1);
  });

  test('genesis: only kv/ keys with a valid key part; sys/ refused', () => {
    expect(() => kv.checkGenesis(any, [{ key: 'kv/a', value: 1 }])).not.toThrow();
    for (const key of ['sys/nonce/x', 'a', 'kv/', 'kv/' + 'x'.repeat(257)]) {
      expect(codeOf(() => kv.checkGenesis(any, [{ key, value: 1 }]))).toBe('invalid_genesis');
    }
  });

  test('declares every read: a round never hits an undeclared key', () => {
    const key = fc.constantFrom('a', 'b', 'c');
    const call = fc.oneof(
      fc.record({ call: fc.constant('set'), args: fc.record({ key, value: fc.oneof(fc.integer(), fc.string()) }) }),
      fc.record({ call: fc.constant('delete'), args: fc.record({ key }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(alice, bob, mallory), call), { maxLength: 20 }), (ops) => {
        const next = new Map<string, number>();
        const txs = ops.map(([p, c]) => {
          const n = next.get(p.key) ?? 0;
          next.set(p.key, n + 1);
          return makeTx(p, n, c.call, c.args as Record<string, JsonValue>);
        });
        const model = new Map<string, JsonValue>();
        for (const [p, c] of ops) {
          if (p === mallory) continue;
          const k = `kv/${c.args.key}`;
          if (c.call === 'set') model.set(k, (c.args as { value: JsonValue }).value);
          else model.delete(k);
        }
        const r = runRound(kv, kv.parseConfig({ writers: [alice.key, bob.key] }), new Map(), txs);
        const kvState = new Map([...r.after].filter(([k]) => k.startsWith('kv/')));
        expect(kvState).toEqual(model);
      }),
      { numRuns: 200 },
    );
  });
});

describe('token', () => {
  const config: TokenConfig = token.parseConfig({ symbol: 'DST', decimals: 6, minter: carol.key });

  test('config is validated strictly', () => {
    expect(config).toEqual({ symbol: 'DST', decimals: 6, minter: carol.key });
    expect(() => token.parseConfig({ symbol: 'x', decimals: 36, minter: dave.key })).not.toThrow();
    for (const bad of [
      { symbol: 'DST', decimals: 37, minter: carol.key },
      { symbol: 'DST', decimals: -1, minter: carol.key },
      { symbol: 'DST', decimals: 1.5, minter: carol.key },
      { symbol: 'DST', decimals: '6', minter: carol.key },
      { symbol: '', decimals: 6, minter: carol.key },
      { symbol: 'has space', decimals: 6, minter: carol.key },
      { symbol: 'DST', decimals: 6, minter: 'carol' },
      { symbol: 'DST', decimals: 6 },
      { symbol: 'DST', decimals: 6, minter: carol.key, cap: '5' },
    ]) {
      expect(codeOf(() => token.parseConfig(bad))).not.toBe('no error');
    }
    expect(codeOf(() => token.parseConfig({ symbol: 'DST', decimals: 37, minter: carol.key }))).toBe('invalid_config');
  });

  test('checkCall refuses non-canonical amounts and malformed args', () => {
    expect(() => token.checkCall(config, 'transfer', { to: bob.key, amount: '0' })).not.toThrow(); // fails later, at execution
    expect(() => token.checkCall(config, 'mint', { to: bob.key, amount: '9'.repeat(78) })).not.toThrow();
    for (const amount of ['01', '-1', '+1', '1.0', '1e3', ' 1', '', '9'.repeat(79), 1, null] as JsonValue[]) {
      expect(codeOf(() => token.checkCall(config, 'transfer', { to: bob.key, amount }))).toBe('invalid_args');
    }
    expect(codeOf(() => token.checkCall(config, 'transfer', { to: 'bob', amount: '1' }))).toBe('invalid_key');
    expect(codeOf(() => token.checkCall(config, 'transfer', { amount: '1' }))).toBe('invalid_args');
    expect(codeOf(() => token.checkCall(config, 'burn', { amount: '1', to: bob.key }))).toBe('invalid_args');
    expect(codeOf(() => token.checkCall(config, 'approve', { amount: '1' }))).toBe('unknown_call');
  });

  const genesis = new Map<string, JsonValue>([
    [bal(alice), '10'],
    [bal(bob), '1'],
    ['supply', '11'],
  ]);

  test('transfer moves the amount; mint and burn move the supply', () => {
    const r = runRound(token, config, genesis, [
      makeTx(alice, 0, 'transfer', { to: bob.key, amount: '2' }),
      makeTx(carol, 0, 'mint', { to: dave.key, amount: '100' }),
      makeTx(bob, 0, 'burn', { amount: '3' }),
    ]);
    expect(r.receipts.map((x) => x.status)).toEqual(['ok', 'ok', 'ok']);
    expect(r.after.get(bal(alice))).toBe('8');
    expect(r.after.get(bal(dave))).toBe('100');
    expect(r.after.get('supply')).toBe('108');
    // bob: 1 + 2 - 3 = 0 → deleted, not stored as "0"
    expect(r.after.has(bal(bob))).toBe(false);
    expect(r.writes.get(bal(bob))).toBeNull();
  });

  test('failure codes: unauthorized, invalid_amount, insufficient_balance', () => {
    const r = runRound(token, config, genesis, [
      makeTx(alice, 0, 'mint', { to: alice.key, amount: '5' }),
      makeTx(alice, 1, 'transfer', { to: bob.key, amount: '0' }),
      makeTx(alice, 2, 'transfer', { to: bob.key, amount: '11' }),
      makeTx(bob, 0, 'burn', { amount: '2' }),
      makeTx(carol, 0, 'mint', { to: alice.key, amount: '0' }),
      makeTx(carol, 1, 'mint', { to: alice.key, amount: '9'.repeat(78) }), // supply would exceed 78 digits
    ]);
    expect(r.receipts.map((x) => (x.status === 'failed' ? x.code : 'ok'))).toEqual([
      'unauthorized',
      'invalid_amount',
      'insufficient_balance',
      'insufficient_balance',
      'invalid_amount',
      'invalid_amount',
    ]);
    // Only nonces moved.
    expect([...r.writes.keys()].every((k) => k.startsWith('sys/nonce/'))).toBe(true);
    expect(r.after.get(nonce(alice))).toBe(3);
    expect(r.after.get(nonce(carol))).toBe(2);
  });

  test('transfer to oneself succeeds and changes nothing but the nonce; overdrawing oneself still fails', () => {
    const r = runRound(token, config, genesis, [
      makeTx(alice, 0, 'transfer', { to: alice.key, amount: '10' }),
      makeTx(alice, 1, 'transfer', { to: alice.key, amount: '11' }),
    ]);
    expect(r.receipts.map((x) => x.status)).toEqual(['ok', 'failed']);
    expect([...r.writes.keys()]).toEqual([nonce(alice)]);
  });

  test('later transactions in a round see earlier writes', () => {
    const r = runRound(token, config, genesis, [
      makeTx(alice, 0, 'transfer', { to: mallory.key, amount: '10' }),
      makeTx(mallory, 0, 'transfer', { to: bob.key, amount: '10' }),
      makeTx(alice, 1, 'transfer', { to: bob.key, amount: '1' }),
    ]);
    expect(r.receipts.map((x) => x.status)).toEqual(['ok', 'ok', 'failed']);
    expect(r.after.get(bal(bob))).toBe('11');
    expect(r.after.has(bal(alice))).toBe(false);
    expect(r.after.has(bal(mallory))).toBe(false);
  });

  test('genesis: supply must equal the sum; balances keyed by valid keys; canonical non-zero amounts', () => {
    const ok = [
      { key: bal(alice), value: '10' },
      { key: bal(carol), value: '1' },
      { key: 'supply', value: '11' },
    ];
    expect(() => token.checkGenesis(config, ok)).not.toThrow();
    expect(() => token.checkGenesis(config, [])).not.toThrow();
    try {
      token.checkGenesis(config, ok.slice(0, 2));
      throw new Error('accepted genesis without supply');
    } catch (e) {
      expect((e as DstpError).code).toBe('invalid_genesis');
      expect((e as DstpError).details?.expected).toBe('11');
    }
    const bad: { key: string; value: JsonValue }[][] = [
      [...ok.slice(0, 2), { key: 'supply', value: '12' }],
      [{ key: bal(alice), value: '010' }, { key: 'supply', value: '10' }],
      [{ key: bal(alice), value: 10 }, { key: 'supply', value: '10' }],
      [{ key: bal(alice), value: '0' }],
      [{ key: 'supply', value: '0' }],
      [{ key: 'balance/alice', value: '1' }, { key: 'supply', value: '1' }],
      [{ key: 'other', value: '1' }],
      [{ key: `sys/nonce/${alice.key}`, value: 3 }],
    ];
    for (const entries of bad) expect(codeOf(() => token.checkGenesis(config, entries))).toBe('invalid_genesis');
  });

  test('model check: random rounds match a plain balance model, and reads are always declared', () => {
    const parties = [alice, bob, carol, dave];
    const amount = fc.bigInt({ min: 0n, max: 15n }).map(String);
    const op = fc.tuple(
      fc.constantFrom(...parties),
      fc.constantFrom('mint', 'transfer', 'burn'),
      fc.constantFrom(...parties),
      amount,
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const next = new Map<string, number>();
        const model = new Map<string, bigint>([
          [alice.key, 10n],
          [bob.key, 1n],
        ]);
        let supply = 11n;
        const expectedCodes: string[] = [];
        const txs = ops.map(([p, call, to, amt]) => {
          const n = next.get(p.key) ?? 0;
          next.set(p.key, n + 1);
          const a = BigInt(amt);
          const have = model.get(p.key) ?? 0n;
          let code = 'ok';
          if (call === 'mint' && p !== carol) code = 'unauthorized';
          else if (a === 0n) code = 'invalid_amount';
          else if (call !== 'mint' && have < a) code = 'insufficient_balance';
          else if (call === 'mint') {
            model.set(to.key, (model.get(to.key) ?? 0n) + a);
            supply += a;
          } else if (call === 'transfer') {
            model.set(p.key, have - a);
            model.set(to.key, (model.get(to.key) ?? 0n) + a);
          } else {
            model.set(p.key, have - a);
            supply -= a;
          }
          expectedCodes.push(code);
          const args: Record<string, JsonValue> = call === 'burn' ? { amount: amt } : { to: to.key, amount: amt };
          return makeTx(p, n, call, args);
        });
        const r = runRound(token, config, genesis, txs);
        expect(r.receipts.map((x) => (x.status === 'failed' ? x.code : 'ok'))).toEqual(expectedCodes);
        for (const p of parties) {
          const m = model.get(p.key) ?? 0n;
          expect(r.after.get(bal(p))).toEqual(m === 0n ? undefined : m.toString());
        }
        expect(r.after.get('supply')).toEqual(supply === 0n ? undefined : supply.toString());
      }),
      { numRuns: 300 },
    );
  });
});

