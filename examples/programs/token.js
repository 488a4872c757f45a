// The native `token` program (SPEC §7) written as a user program. Amounts are decimal strings of
// at most 78 digits; the sandbox has no BigInt (its arithmetic is not metered), so they are added
// and subtracted digit by digit here. A zero balance or supply is deleted, never stored.
const KEY_RE = /^(ed25519:[0-9a-f]{64}|secp256k1:0[23][0-9a-f]{64}|bip340:[0-9a-f]{64})$/;
const AMOUNT_RE = /^(0|[1-9][0-9]*)$/;
const SYMBOL_RE = /^[A-Za-z0-9._-]{1,32}$/;
const MAX_DIGITS = 78;
const DIGITS = '0123456789';

const exact = (o, fields) => o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).length === fields.length && fields.every((f) => Object.hasOwn(o, f));
const isAmount = (v) => typeof v === 'string' && v.length <= MAX_DIGITS && AMOUNT_RE.test(v);

function cmp(a, b) {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
function add(a, b) {
  let out = '';
  let carry = 0;
  for (let i = a.length - 1, j = b.length - 1; i >= 0 || j >= 0 || carry; i--, j--) {
    const d = (i >= 0 ? a.charCodeAt(i) - 48 : 0) + (j >= 0 ? b.charCodeAt(j) - 48 : 0) + carry;
    out = DIGITS[d % 10] + out;
    carry = d >= 10 ? 1 : 0;
  }
  return out;
}
/** a - b for a >= b. */
function sub(a, b) {
  let out = '';
  let borrow = 0;
  for (let i = a.length - 1, j = b.length - 1; i >= 0; i--, j--) {
    let d = a.charCodeAt(i) - 48 - (j >= 0 ? b.charCodeAt(j) - 48 : 0) - borrow;
    borrow = d < 0 ? 1 : 0;
    if (d < 0) d += 10;
    out = DIGITS[d] + out;
  }
  const t = out.replace(/^0+/, '');
  return t === '' ? '0' : t;
}

const balanceKey = (account) => 'balance/' + account;
function read(state, key) {
  const v = state.get(key);
  if (v === null) return '0';
  if (!isAmount(v)) throw new Error(key + ' does not hold an amount');
  return v;
}
const put = (key, n) => ({ key, value: n === '0' ? null : n });

export default {
  parseConfig(c) {
    if (!exact(c, ['symbol', 'decimals', 'minter'])) throw new Error('config is { symbol, decimals, minter }');
    if (typeof c.symbol !== 'string' || !SYMBOL_RE.test(c.symbol)) throw new Error('symbol');
    if (!Number.isInteger(c.decimals) || c.decimals < 0 || c.decimals > 36) throw new Error('decimals');
    if (typeof c.minter !== 'string' || !KEY_RE.test(c.minter)) throw new Error('minter');
    return { symbol: c.symbol, decimals: c.decimals, minter: c.minter };
  },
  checkGenesis(config, entries) {
    let sum = '0';
    let supply;
    for (const { key, value } of entries) {
      if (!isAmount(value) || value === '0') throw new Error('amounts are > 0');
      if (key === 'supply') supply = value;
      else if (key.startsWith('balance/') && KEY_RE.test(key.slice(8))) sum = add(sum, value);
      else throw new Error('keys are supply and balance/<key>');
    }
    if (sum.length > MAX_DIGITS) throw new Error('sum too large');
    if ((supply ?? '0') !== sum) throw new Error('supply must equal the sum of balances');
  },
  checkCall(config, call, args) {
    if (call === 'mint' || call === 'transfer') {
      if (!exact(args, ['to', 'amount']) || typeof args.to !== 'string' || !KEY_RE.test(args.to)) throw new Error('{ to, amount }');
    } else if (call === 'burn') {
      if (!exact(args, ['amount'])) throw new Error('{ amount }');
    } else throw new Error('unknown call');
    if (!isAmount(args.amount)) throw new Error('amount');
  },
  reads(config, call, args, sender) {
    if (call === 'mint') return [balanceKey(args.to), 'supply'];
    if (call === 'transfer') return [balanceKey(sender), balanceKey(args.to)];
    return [balanceKey(sender), 'supply'];
  },
  apply(config, call, args, sender, state) {
    const amount = args.amount;
    if (call === 'mint' && sender !== config.minter) return { fail: 'unauthorized' };
    if (amount === '0') return { fail: 'invalid_amount' };
    if (call === 'mint') {
      const supply = add(read(state, 'supply'), amount);
      if (supply.length > MAX_DIGITS) return { fail: 'invalid_amount' };
      const to = balanceKey(args.to);
      return { writes: [put(to, add(read(state, to), amount)), put('supply', supply)] };
    }
    const from = balanceKey(sender);
    const balance = read(state, from);
    if (cmp(balance, amount) < 0) return { fail: 'insufficient_balance' };
    if (call === 'transfer') {
      const to = balanceKey(args.to);
      if (from === to) return { writes: [] };
      const rest = sub(balance, amount);
      return { writes: [put(from, rest), put(to, add(read(state, to), amount))] };
    }
    return { writes: [put(from, sub(balance, amount)), put('supply', sub(read(state, 'supply'), amount))] };
  },
  // Admission at accept time, as the native token's: a mint by anyone but the minter, and a
  // transfer or burn of more than the sender holds in the latest final state, are refused at the
  // door unless a transaction in flight credits the sender (then the node admits it).
  admit(config, call, args, sender, state) {
    if (call === 'mint') return sender === config.minter ? null : { fail: 'unauthorized' };
    return cmp(read(state, balanceKey(sender)), args.amount) < 0 ? { fail: 'insufficient_balance' } : null;
  },
  // The keys a call may raise once executed, while it is in flight.
  credits(config, call, args) {
    return call === 'burn' ? [] : [balanceKey(args.to)];
  },
};
