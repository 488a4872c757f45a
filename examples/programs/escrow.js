// An escrow of points between two parties and an arbiter. The buyer `deposit`s an amount into
// a deal, then either the buyer or the arbiter `release`s it to the seller, or the seller or the
// arbiter `refund`s it to the buyer. Balances are whole numbers held at `points/<account>`;
// config.grants gives the starting points (genesis writes them). Deals live at `deal/<id>`.
const exact = (o, fields) => o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).length === fields.length && fields.every((f) => Object.hasOwn(o, f));
const ID_RE = /^[a-z0-9-]{1,32}$/;
const points = (who) => 'points/' + who;

export default {
  parseConfig(c) {
    if (!exact(c, ['arbiter'])) throw new Error('config is { arbiter }');
    if (typeof c.arbiter !== 'string' || c.arbiter.length === 0) throw new Error('arbiter');
    return { arbiter: c.arbiter };
  },
  checkGenesis(config, entries) {
    for (const { key, value } of entries) {
      if (!key.startsWith('points/') || !Number.isSafeInteger(value) || value <= 0) throw new Error('genesis holds points/<account> = positive integers');
    }
  },
  checkCall(config, call, args) {
    if (call === 'deposit') {
      if (!exact(args, ['deal', 'seller', 'amount']) || typeof args.seller !== 'string' || !Number.isSafeInteger(args.amount) || args.amount <= 0) throw new Error('deposit { deal, seller, amount }');
    } else if (call === 'release' || call === 'refund') {
      if (!exact(args, ['deal'])) throw new Error(call + ' { deal }');
    } else throw new Error('unknown call');
    if (typeof args.deal !== 'string' || !ID_RE.test(args.deal)) throw new Error('deal ids are 1..32 of [a-z0-9-]');
  },
  reads(config, call, args, sender) {
    return call === 'deposit' ? ['deal/' + args.deal, points(sender)] : ['deal/' + args.deal];
  },
  apply(config, call, args, sender, state) {
    const key = 'deal/' + args.deal;
    const deal = state.get(key);
    if (call === 'deposit') {
      if (deal !== null) return { fail: 'deal_exists' };
      const have = state.get(points(sender)) ?? 0;
      if (have < args.amount) return { fail: 'insufficient_points' };
      return { writes: [{ key: points(sender), value: have - args.amount || null }, { key, value: { buyer: sender, seller: args.seller, amount: args.amount } }] };
    }
    if (deal === null) return { fail: 'unknown_deal' };
    const allowed = call === 'release' ? [deal.buyer, config.arbiter] : [deal.seller, config.arbiter];
    if (!allowed.includes(sender)) return { fail: 'unauthorized' };
    // The payee's balance is not declared by this call: the payout is a claimable credit.
    const to = call === 'release' ? deal.seller : deal.buyer;
    return { writes: [{ key, value: null }, { key: 'credit/' + args.deal, value: { to, amount: deal.amount } }] };
  },
};
