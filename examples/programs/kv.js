// The native `kv` program (SPEC §7) written as a user program: the equivalence test
// (test/unit/example-programs.test.ts) checks that both give the same writes and receipts.
const MAX_KEY = 256;
const MAX_WRITERS = 256;
const KEY_RE = /^(ed25519:[0-9a-f]{64}|secp256k1:0[23][0-9a-f]{64}|bip340:[0-9a-f]{64})$/;

function codePoints(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
const isKvKey = (k) => typeof k === 'string' && k.length > 0 && codePoints(k) <= MAX_KEY;
const exact = (o, fields) => o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).length === fields.length && fields.every((f) => Object.hasOwn(o, f));

export default {
  parseConfig(config) {
    if (!exact(config, ['writers'])) throw new Error('config is { writers }');
    if (config.writers === 'any') return { writers: 'any' };
    const w = config.writers;
    if (!Array.isArray(w) || w.length === 0 || w.length > MAX_WRITERS || !w.every((k) => typeof k === 'string' && KEY_RE.test(k)) || new Set(w).size !== w.length) {
      throw new Error('writers must be "any" or distinct public keys');
    }
    return { writers: w };
  },
  checkGenesis(config, entries) {
    for (const { key } of entries) if (!key.startsWith('kv/') || !isKvKey(key.slice(3))) throw new Error('kv genesis keys are "kv/" + 1..256 characters');
  },
  checkCall(config, call, args) {
    if (call === 'set') {
      if (!exact(args, ['key', 'value']) || args.value === null) throw new Error('set {key, value}');
    } else if (call === 'delete') {
      if (!exact(args, ['key'])) throw new Error('delete {key}');
    } else throw new Error('unknown call');
    if (!isKvKey(args.key)) throw new Error('key must be 1..256 characters');
  },
  reads() {
    return [];
  },
  apply(config, call, args, sender) {
    if (config.writers !== 'any' && !config.writers.includes(sender)) return { fail: 'unauthorized' };
    return { writes: [{ key: 'kv/' + args.key, value: call === 'set' ? args.value : null }] };
  },
};
