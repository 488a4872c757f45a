// A name registry: `register {name}` gives an unclaimed name to its sender; `transfer {name, to}`
// and `release {name}` are for its owner only. Names are 3..32 of [a-z0-9-], and a sender holds
// at most config.maxPerOwner names (count at `owned/<sender>`).
const exact = (o, fields) => o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).length === fields.length && fields.every((f) => Object.hasOwn(o, f));
const NAME_RE = /^[a-z0-9-]{3,32}$/;

export default {
  parseConfig(c) {
    if (!exact(c, ['maxPerOwner']) || !Number.isSafeInteger(c.maxPerOwner) || c.maxPerOwner < 1) throw new Error('config is { maxPerOwner }');
    return c;
  },
  checkGenesis(config, entries) {
    if (entries.length > 0) throw new Error('the registry starts empty');
  },
  checkCall(config, call, args) {
    const fields = { register: ['name'], release: ['name'], transfer: ['name', 'to'] }[call];
    if (fields === undefined) throw new Error('unknown call');
    if (!exact(args, fields) || typeof args.name !== 'string' || !NAME_RE.test(args.name)) throw new Error('name must be 3..32 of [a-z0-9-]');
    if (call === 'transfer' && (typeof args.to !== 'string' || args.to.length === 0)) throw new Error('to');
  },
  reads(config, call, args, sender) {
    const keys = ['name/' + args.name, 'owned/' + sender];
    if (call === 'transfer') keys.push('owned/' + args.to);
    return keys;
  },
  apply(config, call, args, sender, state) {
    const key = 'name/' + args.name;
    const owner = state.get(key);
    const mine = state.get('owned/' + sender) ?? 0;
    if (call === 'register') {
      if (owner !== null) return { fail: 'name_taken' };
      if (mine >= config.maxPerOwner) return { fail: 'limit_reached' };
      return { writes: [{ key, value: sender }, { key: 'owned/' + sender, value: mine + 1 }] };
    }
    if (owner !== sender) return { fail: owner === null ? 'unknown_name' : 'unauthorized' };
    const left = { key: 'owned/' + sender, value: mine - 1 || null };
    if (call === 'release') return { writes: [{ key, value: null }, left] };
    if (args.to === sender) return { writes: [] };
    const theirs = state.get('owned/' + args.to) ?? 0;
    if (theirs >= config.maxPerOwner) return { fail: 'limit_reached' };
    return { writes: [{ key, value: args.to }, left, { key: 'owned/' + args.to, value: theirs + 1 }] };
  },
};
