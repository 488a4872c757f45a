import { formatAmount, isCanonicalAmount, MAX_AMOUNT, parseAmount } from '../amount.ts';
import { fail } from '../errors.ts';
import type { JsonValue } from '../jcs.ts';
import { exactObject, isSafeInt } from '../strict.ts';
import { parseKeyField } from '../tx.ts';
import { isPublicKeyString } from '../keys.ts';
import { callArgs, refuseSysKeys } from './common.ts';
import { BALANCE_PREFIX, balanceKey, SUPPLY_KEY } from './token-keys.ts';
import type { Admission, Program, ProgramResult, ProgramTx, StateView, Writes } from './types.ts';

export { BALANCE_PREFIX, balanceKey, SUPPLY_KEY };

/**
 * `token`: a fungible token (SPEC §7). `balance/<account>` holds a canonical decimal string and
 * `supply` the total; `supply` always equals the sum of all balances.
 *
 * Zero is never stored: a balance (or the supply) that reaches 0 is deleted, and an absent key
 * reads as 0. So the state — and its root — depends only on who holds what, not on whether an
 * account once held something.
 */
export interface TokenConfig {
  readonly symbol: string;
  readonly decimals: number;
  readonly minter: string;
}

export const MAX_DECIMALS = 36;
export const TOKEN_CALLS = ['transfer', 'mint', 'burn'] as const;
const SYMBOL_RE = /^[A-Za-z0-9._-]{1,32}$/;

function parseConfig(config: unknown): TokenConfig {
  const c = exactObject(config, ['symbol', 'decimals', 'minter'], 'invalid_config', 'config');
  if (typeof c.symbol !== 'string' || !SYMBOL_RE.test(c.symbol)) {
    fail('invalid_config', 'config.symbol must be 1-32 characters of [A-Za-z0-9._-]', { field: 'config.symbol' });
  }
  if (!isSafeInt(c.decimals, 0, MAX_DECIMALS)) {
    fail('invalid_config', `config.decimals must be an integer in 0..${MAX_DECIMALS}`, { field: 'config.decimals' });
  }
  const minter = parseKeyField(c.minter, 'config.minter', 'invalid_config');
  return { symbol: c.symbol, decimals: c.decimals, minter };
}

function checkGenesis(_config: TokenConfig, entries: readonly { key: string; value: JsonValue }[]): void {
  refuseSysKeys(entries);
  let sum = 0n;
  let supply: bigint | undefined;
  for (const { key, value } of entries) {
    if (key === SUPPLY_KEY) {
      supply = parseAmount(value);
      if (supply === undefined || supply === 0n) {
        fail('invalid_genesis', 'supply must be a canonical decimal string > 0 (zero is not stored)', { key });
      }
      continue;
    }
    if (!key.startsWith(BALANCE_PREFIX) || !isPublicKeyString(key.slice(BALANCE_PREFIX.length))) {
      fail('invalid_genesis', 'token genesis keys are "supply" and "balance/<public key>"', { key });
    }
    const amount = parseAmount(value);
    if (amount === undefined || amount === 0n) {
      fail('invalid_genesis', 'a balance must be a canonical decimal string > 0 (zero is not stored)', { key });
    }
    sum += amount;
  }
  if (sum > MAX_AMOUNT) fail('invalid_genesis', 'the sum of balances exceeds the largest amount', { expected: formatAmount(sum) });
  if (supply === undefined && sum !== 0n) {
    fail('invalid_genesis', 'genesis has balances but no supply', { key: SUPPLY_KEY, expected: formatAmount(sum) });
  }
  if (supply !== undefined && supply !== sum) {
    fail('invalid_genesis', 'supply must equal the sum of balances', {
      key: SUPPLY_KEY,
      expected: formatAmount(sum),
      got: formatAmount(supply),
    });
  }
}

function checkCall(_config: TokenConfig, call: string, args: Record<string, JsonValue>): void {
  let a;
  if (call === 'mint' || call === 'transfer') {
    a = callArgs(args, call, ['to', 'amount']);
    parseKeyField(a.to, 'args.to');
  } else if (call === 'burn') {
    a = callArgs(args, call, ['amount']);
  } else {
    fail('unknown_call', `token has no call "${call}" (its calls: ${TOKEN_CALLS.join(', ')})`, { call, calls: [...TOKEN_CALLS] });
  }
  // "0" is structurally fine and fails at execution as invalid_amount, so it consumes the nonce.
  if (!isCanonicalAmount(a.amount)) {
    fail('invalid_args', 'amount must be a decimal string without leading zeros, at most 78 digits', { field: 'args.amount' });
  }
}

function reads(_config: TokenConfig, tx: ProgramTx): string[] {
  switch (tx.call) {
    case 'mint':
      return [balanceKey(tx.args.to as string), SUPPLY_KEY];
    case 'transfer':
      return [balanceKey(tx.sender), balanceKey(tx.args.to as string)];
    default: // burn
      return [balanceKey(tx.sender), SUPPLY_KEY];
  }
}

/** Reads a stored amount; absent is 0. A malformed stored value is a broken invariant: throw. */
function readAmount(state: StateView, key: string): bigint {
  const v = state.get(key);
  if (v === undefined) return 0n;
  const n = parseAmount(v);
  if (n === undefined) throw new Error(`state key ${key} does not hold a canonical amount`);
  return n;
}

function putAmount(writes: Writes, key: string, n: bigint): void {
  writes.set(key, n === 0n ? null : formatAmount(n));
}

function apply(config: TokenConfig, state: StateView, tx: ProgramTx): ProgramResult {
  const amount = BigInt(tx.args.amount as string);
  if (tx.call === 'mint' && tx.sender !== config.minter) return { ok: false, code: 'unauthorized' };
  if (amount === 0n) return { ok: false, code: 'invalid_amount' };
  const writes: Writes = new Map();
  switch (tx.call) {
    case 'mint': {
      const supply = readAmount(state, SUPPLY_KEY) + amount;
      // The supply bounds every balance, so capping it keeps all amounts within 78 digits.
      if (supply > MAX_AMOUNT) return { ok: false, code: 'invalid_amount' };
      const to = balanceKey(tx.args.to as string);
      putAmount(writes, to, readAmount(state, to) + amount);
      putAmount(writes, SUPPLY_KEY, supply);
      break;
    }
    case 'transfer': {
      const from = balanceKey(tx.sender);
      const to = balanceKey(tx.args.to as string);
      const balance = readAmount(state, from);
      if (balance < amount) return { ok: false, code: 'insufficient_balance' };
      if (from === to) break; // a transfer to oneself is valid and moves nothing
      putAmount(writes, from, balance - amount);
      putAmount(writes, to, readAmount(state, to) + amount);
      break;
    }
    default: {
      // burn
      const from = balanceKey(tx.sender);
      const balance = readAmount(state, from);
      if (balance < amount) return { ok: false, code: 'insufficient_balance' };
      putAmount(writes, from, balance - amount);
      putAmount(writes, SUPPLY_KEY, readAmount(state, SUPPLY_KEY) - amount);
    }
  }
  return { ok: true, writes };
}

/**
 * Refuses a mint by anyone but the minter, and a transfer or burn of more than the sender held at
 * the latest final round when nothing pending credits the sender: pending transactions before it
 * can only lower that balance, so it would fail. A credit in flight admits (its amount is not
 * counted: the filter errs toward admitting).
 */
const admission: Admission<TokenConfig> = {
  reads: (_config, tx) => (tx.call === 'mint' ? [] : [balanceKey(tx.sender)]),
  credits: (_config, tx) => (tx.call === 'mint' || tx.call === 'transfer' ? [balanceKey(tx.args.to as string)] : []),
  admit(config, tx, state, credited) {
    if (tx.call === 'mint') return tx.sender === config.minter ? null : 'unauthorized';
    const from = balanceKey(tx.sender);
    if (credited.has(from)) return null;
    return readAmount(state, from) < BigInt(tx.args.amount as string) ? 'insufficient_balance' : null;
  },
};

export const token: Program<TokenConfig> = {
  name: 'token',
  calls: TOKEN_CALLS,
  parseConfig,
  checkGenesis,
  checkCall,
  reads,
  apply,
  admission,
};
