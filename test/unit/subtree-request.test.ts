import { describe, expect, test } from 'bun:test';
import { parseMode } from '../../src/core/consensus/mode.ts';
import { checkCreationSignatures, creationSignersRequired } from '../../src/core/consensus/signing-rules.ts';
import { digest } from '../../src/core/digest.ts';
import { DstpError } from '../../src/core/errors.ts';
import { sha256 } from '../../src/core/hash.ts';
import { concatBytes, toHex, utf8 } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { parseSubtreeRequest, subtreeId, type SubtreeSpec } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { alice, bob, carol, dave, mallory, NETWORK, party, type Party } from './core-fixtures.ts';

function errOf(f: () => unknown): DstpError {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return e;
    throw e;
  }
  throw new Error('expected a DstpError');
}

function spec(over: Partial<Record<keyof SubtreeSpec, unknown>> = {}): Record<string, any> {
  return {
    v: 1,
    network: NETWORK,
    parent: ROOT_ID_HEX,
    owner: alice.key,
    name: 'my-token',
    program: 'token',
    config: { symbol: 'DST', decimals: 2, minter: alice.key },
    mode: { type: 'poa', authority: bob.key },
    genesis: [
      { key: `balance/${alice.key}`, value: '10' },
      { key: `balance/${bob.key}`, value: '1' },
      { key: 'supply', value: '11' },
    ],
    ...over,
  };
}

function sign(subtree: unknown, ...who: Party[]) {
  const d = digest('subtree', subtree);
  return who.map((p) => ({ signer: p.key, sig: toHex(signDigest(p.scheme, p.secret, d)) }));
}

describe('parseSubtreeRequest', () => {
  test('accepts a well-formed request; the spec keeps the signed bytes', () => {
    const s = spec();
    const req = parseSubtreeRequest({ subtree: s, sigs: sign(s, alice, bob) }, NATIVE_PROGRAMS);
    expect(digest('subtree', req.subtree)).toEqual(digest('subtree', s));
    expect(req.sigs).toHaveLength(2);
  });

  const cases: [string, (s: Record<string, any>) => void, string][] = [
    ['unknown field', (s) => (s.extra = true), 'invalid_subtree'],
    ['v 2', (s) => (s.v = 2), 'invalid_subtree'],
    ['bad network', (s) => (s.network = 'Net'), 'invalid_subtree'],
    ['parent uppercase', (s) => (s.parent = 'AA'.repeat(32)), 'invalid_subtree'],
    ['parent short', (s) => (s.parent = '00'), 'invalid_subtree'],
    ['owner not a key', (s) => (s.owner = 'alice'), 'invalid_key'],
    ['name uppercase', (s) => (s.name = 'MyToken'), 'invalid_name'],
    ['name empty', (s) => (s.name = ''), 'invalid_name'],
    ['name 65 chars', (s) => (s.name = 'a'.repeat(65)), 'invalid_name'],
    ['unknown program', (s) => (s.program = 'evm'), 'unknown_program'],
    ['program from the prototype', (s) => (s.program = 'constructor'), 'unknown_program'],
    ['bad config', (s) => (s.config = { symbol: 'DST', decimals: 99, minter: alice.key }), 'invalid_config'],
    ['bad mode', (s) => (s.mode = { type: 'raft' }), 'invalid_mode'],
    ['genesis not an array', (s) => (s.genesis = {}), 'invalid_genesis'],
    ['genesis duplicate key', (s) => s.genesis.push({ key: 'supply', value: '11' }), 'invalid_genesis'],
    ['genesis null value', (s) => (s.genesis = [{ key: 'kv/a', value: null }]), 'invalid_genesis'],
    ['genesis extra field', (s) => (s.genesis[0].note = 'x'), 'invalid_genesis'],
    ['genesis empty key', (s) => (s.genesis = [{ key: '', value: '1' }]), 'invalid_genesis'],
    ['genesis key 513 chars', (s) => (s.genesis = [{ key: 'x'.repeat(513), value: '1' }]), 'invalid_genesis'],
    ['genesis too many entries', (s) => (s.genesis = Array.from({ length: 10_001 }, (_, i) => ({ key: `kv/${i}`, value: 1 }))), 'invalid_genesis'],
    ['genesis sys/ key', (s) => (s.program = 'kv', s.config = { writers: 'any' }, s.genesis = [{ key: 'sys/nonce/x', value: 1 }]), 'invalid_genesis'],
    ['genesis supply mismatch (program check)', (s) => (s.genesis[2].value = '12'), 'invalid_genesis'],
  ];
  for (const [name, mutate, code] of cases) {
    test(`rejects ${name} → ${code}`, () => {
      const s = spec();
      mutate(s);
      expect<string>(errOf(() => parseSubtreeRequest({ subtree: s, sigs: [] }, NATIVE_PROGRAMS)).code).toBe(code);
    });
  }

  test('sigs must be an array of exact {signer, sig}', () => {
    const s = spec();
    const good = sign(s, alice)[0]!;
    for (const sigs of [null, {}, [{ ...good, extra: 1 }], [{ signer: good.signer }], [{ signer: 'x', sig: good.sig }], [{ signer: good.signer, sig: good.sig.toUpperCase() }]]) {
      const code: string = errOf(() => parseSubtreeRequest({ subtree: s, sigs }, NATIVE_PROGRAMS)).code;
      expect(['invalid_subtree', 'invalid_key']).toContain(code);
    }
    expect(errOf(() => parseSubtreeRequest({ subtree: s, sigs: [], more: 1 }, NATIVE_PROGRAMS)).code).toBe('invalid_subtree');
  });

  test('a kv subtree with 10,000 genesis entries is accepted', () => {
    const s = spec({ program: 'kv', config: { writers: 'any' }, genesis: Array.from({ length: 10_000 }, (_, i) => ({ key: `kv/${i}`, value: i })) });
    expect(parseSubtreeRequest({ subtree: s, sigs: [] }, NATIVE_PROGRAMS).subtree.genesis).toHaveLength(10_000);
  });
});

describe('subtreeId', () => {
  test('= H("DSTP/object/v1\\n" || parent || H(owner) || H(name)), computed by hand', () => {
    const s = parseSubtreeRequest({ subtree: spec(), sigs: [] }, NATIVE_PROGRAMS).subtree;
    const byHand = sha256(concatBytes(utf8('DSTP/object/v1\n'), new Uint8Array(32), sha256(utf8(alice.key)), sha256(utf8('my-token'))));
    expect(toHex(subtreeId(s))).toBe(toHex(byHand));
  });

  test('another owner or name gives another id', () => {
    const a = subtreeId({ parent: ROOT_ID_HEX, owner: alice.key, name: 'x' });
    expect(subtreeId({ parent: ROOT_ID_HEX, owner: bob.key, name: 'x' })).not.toEqual(a);
    expect(subtreeId({ parent: ROOT_ID_HEX, owner: alice.key, name: 'y' })).not.toEqual(a);
    expect(subtreeId({ parent: toHex(a), owner: alice.key, name: 'x' })).not.toEqual(a);
  });
});

describe('parseMode', () => {
  test('accepts each mode and refuses malformed ones', () => {
    expect(parseMode({ type: 'poa', authority: bob.key })).toEqual({ type: 'poa', authority: bob.key });
    expect(parseMode({ type: 'multisig', signers: [alice.key, carol.key], threshold: 2, proposalTimeoutMs: 30000 }).type).toBe('multisig');
    expect(parseMode({ type: 'pos', validators: [{ key: dave.key, stake: '100' }], epochRounds: 1 }).type).toBe('pos');
    const signers64 = Array.from({ length: 64 }, (_, i) => party(`s${i}`).key);
    expect(() => parseMode({ type: 'multisig', signers: signers64, threshold: 64, proposalTimeoutMs: 3_600_000 })).not.toThrow();
    const bad: unknown[] = [
      null,
      { type: 'poa' },
      { type: 'poa', authority: 'x' },
      { type: 'poa', authority: bob.key, threshold: 1 },
      { type: 'multisig', signers: [], threshold: 1, proposalTimeoutMs: 30000 },
      { type: 'multisig', signers: [...signers64, alice.key], threshold: 1, proposalTimeoutMs: 30000 },
      { type: 'multisig', signers: [alice.key, alice.key], threshold: 1, proposalTimeoutMs: 30000 },
      { type: 'multisig', signers: [alice.key], threshold: 2, proposalTimeoutMs: 30000 },
      { type: 'multisig', signers: [alice.key], threshold: 0, proposalTimeoutMs: 30000 },
      { type: 'multisig', signers: [alice.key], threshold: 1, proposalTimeoutMs: 999 },
      { type: 'multisig', signers: [alice.key], threshold: 1, proposalTimeoutMs: 3_600_001 },
      { type: 'multisig', signers: [alice.key], threshold: 1 },
      { type: 'pos', validators: [], epochRounds: 1 },
      { type: 'pos', validators: [{ key: dave.key, stake: '0' }], epochRounds: 1 },
      { type: 'pos', validators: [{ key: dave.key, stake: '01' }], epochRounds: 1 },
      { type: 'pos', validators: [{ key: dave.key, stake: 5 }], epochRounds: 1 },
      { type: 'pos', validators: [{ key: dave.key, stake: '5' }, { key: dave.key, stake: '6' }], epochRounds: 1 },
      { type: 'pos', validators: [{ key: dave.key, stake: '5', slash: 1 }], epochRounds: 1 },
      { type: 'pos', validators: [{ key: dave.key, stake: '5' }], epochRounds: 0 },
    ];
    for (const m of bad) expect(errOf(() => parseMode(m)).code).toBe('invalid_mode');
  });
});

describe('creation signatures', () => {
  const parse = (over: Partial<Record<keyof SubtreeSpec, unknown>>) => parseSubtreeRequest({ subtree: spec(over), sigs: [] }, NATIVE_PROGRAMS).subtree;

  test('poa: owner and authority must both sign', () => {
    const s = parse({});
    expect(creationSignersRequired(s)).toEqual([
      { rule: 'owner', key: alice.key },
      { rule: 'authority', key: bob.key },
    ]);
    expect(checkCreationSignatures(s, sign(s, alice, bob)).ok).toBe(true);
    expect(checkCreationSignatures(s, sign(s, alice)).missing).toEqual([{ rule: 'authority', key: bob.key }]);
    expect(checkCreationSignatures(s, sign(s, bob)).missing).toEqual([{ rule: 'owner', key: alice.key }]);
    expect(checkCreationSignatures(s, []).missing).toHaveLength(2);
  });

  test('poa with the owner as authority: one signature meets both rules', () => {
    const s = parse({ mode: { type: 'poa', authority: alice.key } });
    expect(checkCreationSignatures(s, sign(s, alice))).toEqual({ ok: true, signers: [alice.key], missing: [] });
  });

  test('multisig: threshold of distinct signers; duplicates ignored; the owner counts only if a signer', () => {
    const s = parse({ mode: { type: 'multisig', signers: [bob.key, carol.key, dave.key], threshold: 2, proposalTimeoutMs: 30000 } });
    expect(checkCreationSignatures(s, sign(s, alice, bob, carol)).ok).toBe(true);
    const dup = checkCreationSignatures(s, sign(s, alice, bob, bob));
    expect(dup.ok).toBe(false);
    expect(dup.signers).toEqual([alice.key, bob.key]);
    expect(dup.missing).toEqual([{ rule: 'threshold', need: 2, have: 1, candidates: [carol.key, dave.key] }]);
    const ownerIsSigner = parse({ mode: { type: 'multisig', signers: [alice.key, bob.key], threshold: 2, proposalTimeoutMs: 30000 } });
    expect(checkCreationSignatures(ownerIsSigner, sign(ownerIsSigner, alice, bob)).ok).toBe(true);
  });

  test('pos: strictly more than 2/3 of the stake', () => {
    // total 300: 200 is exactly 2/3 (not enough), 201 is enough.
    const s = parse({ mode: { type: 'pos', validators: [{ key: bob.key, stake: '100' }, { key: carol.key, stake: '100' }, { key: dave.key, stake: '99' }, { key: mallory.key, stake: '1' }], epochRounds: 10 } });
    const two = checkCreationSignatures(s, sign(s, alice, bob, carol));
    expect(two.ok).toBe(false);
    expect(two.missing).toEqual([{ rule: 'stake', need: '201', have: '200', candidates: [dave.key, mallory.key] }]);
    expect(checkCreationSignatures(s, sign(s, alice, bob, carol, mallory)).ok).toBe(true);
  });

  test('a signature that does not verify, or by a key no rule names, is refused', () => {
    const s = parse({});
    const [a, b] = sign(s, alice, bob);
    const forged = { signer: bob.key, sig: sign(s, mallory)[0]!.sig };
    expect(errOf(() => checkCreationSignatures(s, [a!, forged])).code).toBe('bad_signature');
    expect(errOf(() => checkCreationSignatures(s, [a!, b!, ...sign(s, mallory)])).details).toMatchObject({ signer: mallory.key });
    // Signatures over another subtree (here: another name) do not verify for this one.
    const other = spec({ name: 'other' });
    expect(errOf(() => checkCreationSignatures(s, sign(other, alice))).code).toBe('bad_signature');
  });

  test('secp256k1 and bip340 signers work like ed25519', () => {
    const s = parse({ owner: carol.key, mode: { type: 'poa', authority: dave.key }, config: { symbol: 'DST', decimals: 2, minter: carol.key } });
    expect(checkCreationSignatures(s, sign(s, carol, dave)).ok).toBe(true);
  });
});
