// A counter with a per-sender limit: `increment {by}` adds 1..config.maxStep to the shared total
// and to the sender's own count, which may not exceed config.perSender. Failure: `limit_reached`.
const exact = (o, fields) => o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).length === fields.length && fields.every((f) => Object.hasOwn(o, f));

export default {
  parseConfig(c) {
    if (!exact(c, ['perSender', 'maxStep'])) throw new Error('config is { perSender, maxStep }');
    if (!Number.isSafeInteger(c.perSender) || c.perSender < 1) throw new Error('perSender must be a positive integer');
    if (!Number.isSafeInteger(c.maxStep) || c.maxStep < 1) throw new Error('maxStep must be a positive integer');
    return { perSender: c.perSender, maxStep: c.maxStep };
  },
  checkGenesis(config, entries) {
    if (entries.length > 0) throw new Error('the counter starts empty');
  },
  checkCall(config, call, args) {
    if (call !== 'increment') throw new Error('unknown call');
    if (!exact(args, ['by']) || !Number.isSafeInteger(args.by) || args.by < 1 || args.by > config.maxStep) throw new Error('by must be 1..maxStep');
  },
  reads(config, call, args, sender) {
    return ['total', 'count/' + sender];
  },
  apply(config, call, args, sender, state) {
    const mine = state.get('count/' + sender) ?? 0;
    if (mine + args.by > config.perSender) return { fail: 'limit_reached' };
    return { writes: [{ key: 'total', value: (state.get('total') ?? 0) + args.by }, { key: 'count/' + sender, value: mine + args.by }] };
  },
};
