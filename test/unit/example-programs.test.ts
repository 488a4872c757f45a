/**
 * User programs through the core's one Program interface (SandboxedProgram over the QuickJS
 * engine): kv and token written as user programs give the same writes, states and receipts
 * (apart from `gas`) as the native ones for random operation sequences (fast-check), and the
 * three example programs of examples/programs/ behave as documented.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../src/core/jcs.ts';
import { kv } from '../../src/core/programs/kv.ts';
import { token } from '../../src/core/programs/token.ts';
import type { Program } from '../../src/core/programs/types.ts';
import type { Receipt } from '../../src/core/receipt.ts';
import type { Tx } from '../../src/core/tx.ts';
import { loadSandbox } from '../../src/platform/sandbox/load.ts';
import { SandboxedProgram } from '../../src/platform/sandbox/sandboxed-program.ts';
import { alice, bob, carol, dave, makeTx, runRound, type Party } from './core-fixtures.ts';

const sandbox = await loadSandbox();
const example = (name: string) => new SandboxedProgram(name, readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'programs', `${name}.js`), 'utf8'), sandbox);
const parties = [alice, bob, carol, dave];
const withoutGas = (rs: Receipt[]) => rs.map(({ gas: _gas, ...r }) => r);

/** Runs the same rounds through two programs; both must agree round by round. */
function compare(native: Program, user: Program, rawConfig: unknown, genesis: Map<string, JsonValue>, rounds: Tx[][]): void {
  const nc = native.parseConfig(rawConfig);
  const uc = user.parseConfig(rawConfig);
  let a = genesis;
  let b = genesis;
  for (const txs of rounds) {
    const ra = runRound(native, nc, a, txs);
    const rb = runRound(user, uc, b, txs);
    expect(withoutGas(rb.receipts)).toEqual(ra.receipts);
    for (const r of rb.receipts) expect(typeof r.gas).toBe('number');
    expect([...rb.after].sort()).toEqual([...ra.after].sort());
    a = ra.after;
    b = rb.after;
  }
}

/** Each party's next nonce, so a generated sequence is a valid log. */
function sequence(ops: { from: number; call: string; args: Record<string, JsonValue> }[], perRound: number): Tx[][] {
  const nonces = new Map<Party, number>();
  const txs = ops.map((o) => {
    const p = parties[o.from]!;
    const n = nonces.get(p) ?? 0;
    nonces.set(p, n + 1);
    return makeTx(p, n, o.call, o.args);
  });
  const rounds: Tx[][] = [];
  for (let i = 0; i < txs.length; i += perRound) rounds.push(txs.slice(i, i + perRound));
  return rounds;
}

const who = fc.integer({ min: 0, max: 3 });
const amount = fc.oneof(fc.constantFrom('0', '1', '5', '10', '999999999999999999999999'), fc.bigInt({ min: 0n, max: 100n }).map(String));

describe('kv and token as user programs match the native ones', () => {
  test('token: random mints, transfers and burns', () => {
    const op = fc.oneof(
      fc.record({ from: who, call: fc.constant('mint'), args: fc.record({ to: who.map((i) => parties[i]!.key), amount }) }),
      fc.record({ from: who, call: fc.constant('transfer'), args: fc.record({ to: who.map((i) => parties[i]!.key), amount }) }),
      fc.record({ from: who, call: fc.constant('burn'), args: fc.record({ amount }) }),
    );
    const config = { symbol: 'TOK', decimals: 2, minter: alice.key };
    const genesis = new Map<string, JsonValue>([[`balance/${bob.key}`, '7'], ['supply', '7']]);
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 5 }), (ops, per) => {
        compare(token as Program, example('token'), config, genesis, sequence(ops as never, per));
      }),
      { numRuns: 12 },
    );
  }, 300_000);

  test('token: the largest amounts and mint overflow', () => {
    const max = '9'.repeat(78);
    compare(token as Program, example('token'), { symbol: 'T', decimals: 0, minter: alice.key }, new Map(), sequence([
      { from: 0, call: 'mint', args: { to: bob.key, amount: max } },
      { from: 0, call: 'mint', args: { to: bob.key, amount: '1' } },
      { from: 1, call: 'transfer', args: { to: carol.key, amount: max } },
      { from: 2, call: 'burn', args: { amount: '1' } },
      { from: 2, call: 'transfer', args: { to: carol.key, amount: '5' } },
    ], 5));
  }, 120_000);

  test('kv: random sets and deletes, with and without a writer list', () => {
    const op = fc.oneof(
      fc.record({ from: who, call: fc.constant('set'), args: fc.record({ key: fc.constantFrom('a', 'b', 'é/ü', 'x'.repeat(256)), value: fc.oneof(fc.integer(), fc.string(), fc.array(fc.boolean(), { maxLength: 3 })) }) }),
      fc.record({ from: who, call: fc.constant('delete'), args: fc.record({ key: fc.constantFrom('a', 'b', 'c') }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 10 }), fc.boolean(), (ops, open) => {
        const config = open ? { writers: 'any' } : { writers: [alice.key, carol.key] };
        compare(kv as Program, example('kv'), config, new Map([['kv/a', 1]]), sequence(ops as never, 4));
      }),
      { numRuns: 10 },
    );
  }, 300_000);
});

describe('example programs', () => {
  test('counter: per-sender limit, and the config gasLimit is the node’s', () => {
    const p = example('counter');
    const config = p.parseConfig({ perSender: 3, maxStep: 2, gasLimit: 2_000_000 });
    expect(config.gasLimit).toBe(2_000_000);
    expect(() => p.parseConfig({ perSender: 0, maxStep: 2 })).toThrow('parseConfig failed');
    expect(() => p.parseConfig({ perSender: 3, maxStep: 2, gasLimit: 0 })).toThrow('gasLimit');
    expect(() => p.checkCall(config, 'increment', { by: 3 })).toThrow('refused');
    expect(() => p.checkCall(config, 'reset', {})).toThrow('refused');
    const out = runRound(p, config, new Map(), [makeTx(alice, 0, 'increment', { by: 2 }), makeTx(alice, 1, 'increment', { by: 2 }), makeTx(bob, 0, 'increment', { by: 2 }), makeTx(alice, 2, 'increment', { by: 1 })]);
    expect(out.receipts.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'limit_reached', 'ok', 'ok']);
    expect(out.after.get('total')).toBe(5);
    expect(out.after.get(`count/${alice.key}`)).toBe(3);
    expect(out.after.get(`sys/nonce/${alice.key}`)).toBe(3);
  }, 60_000);

  test('escrow: deposit, release by the buyer, refusals', () => {
    const p = example('escrow');
    const config = p.parseConfig({ arbiter: carol.key });
    p.checkGenesis(config, [{ key: `points/${alice.key}`, value: 10 }]);
    expect(() => p.checkGenesis(config, [{ key: 'sys/nonce/x', value: 1 }])).toThrow('reserved');
    const genesis = new Map<string, JsonValue>([[`points/${alice.key}`, 10]]);
    const out = runRound(p, config, genesis, [
      makeTx(alice, 0, 'deposit', { deal: 'd1', seller: bob.key, amount: 4 }),
      makeTx(alice, 1, 'deposit', { deal: 'd1', seller: bob.key, amount: 1 }),
      makeTx(alice, 2, 'deposit', { deal: 'd2', seller: bob.key, amount: 7 }),
      makeTx(bob, 0, 'release', { deal: 'd1' }),
      makeTx(alice, 3, 'release', { deal: 'd1' }),
      makeTx(bob, 1, 'refund', { deal: 'd9' }),
    ]);
    expect(out.receipts.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'deal_exists', 'insufficient_points', 'unauthorized', 'ok', 'unknown_deal']);
    expect(out.after.get(`points/${alice.key}`)).toBe(6);
    expect(out.after.get('credit/d1')).toEqual({ to: bob.key, amount: 4 });
    expect(out.after.has('deal/d1')).toBe(false);
  }, 60_000);

  test('name registry: register, transfer, release, limits', () => {
    const p = example('names');
    const config = p.parseConfig({ maxPerOwner: 1 });
    const out = runRound(p, config, new Map(), [
      makeTx(alice, 0, 'register', { name: 'alice' }),
      makeTx(bob, 0, 'register', { name: 'alice' }),
      makeTx(alice, 1, 'register', { name: 'second' }),
      makeTx(bob, 1, 'register', { name: 'bob' }),
      makeTx(alice, 2, 'transfer', { name: 'alice', to: bob.key }),
      makeTx(bob, 2, 'release', { name: 'bob' }),
      makeTx(alice, 3, 'transfer', { name: 'alice', to: bob.key }),
    ]);
    expect(out.receipts.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'name_taken', 'limit_reached', 'ok', 'limit_reached', 'ok', 'ok']);
    expect(out.after.get('name/alice')).toBe(bob.key);
    expect(out.after.has('name/bob')).toBe(false);
    expect(out.after.get(`owned/${bob.key}`)).toBe(1);
    expect(out.after.has(`owned/${alice.key}`)).toBe(false);
  }, 60_000);

  test('an undeclared read is a failed receipt with gas, not an aborted round; sys/ writes are forbidden', () => {
    const src = `export default { reads() { return ['a']; }, apply(c, call, args, sender, state) { if (call === 'peek') { state.get('b'); } return { writes: [{ key: call === 'sys' ? 'sys/nonce/x' : 'a', value: 1 }] }; } };`;
    const p = new SandboxedProgram('t', src, sandbox);
    const out = runRound(p, p.parseConfig({}), new Map(), [makeTx(alice, 0, 'peek', {}), makeTx(alice, 1, 'sys', {}), makeTx(alice, 2, 'ok', {})]);
    expect(out.receipts.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['undeclared_read', 'forbidden_key', 'ok']);
    for (const r of out.receipts) expect(r.gas! > 0).toBe(true);
    expect(out.after.get('a')).toBe(1);
    expect(out.after.get(`sys/nonce/${alice.key}`)).toBe(3);
  }, 60_000);
});
