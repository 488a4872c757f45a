import { describe, expect, test } from 'bun:test';
import { checkCreationSignatures } from '../../src/core/consensus/signing-rules.ts';
import { digest } from '../../src/core/digest.ts';
import { DstpError } from '../../src/core/errors.ts';
import { fromHex } from '../../src/core/hex.ts';
import { parsePublicKey, publicKeyFromSecret, verifyDigest, type Scheme } from '../../src/core/keys.ts';
import { objectId, ROOT_ID } from '../../src/core/object-id.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { parseTxEnvelope, txIdHex, verifyTxSignature } from '../../src/core/tx.ts';
import { toHex } from '../../src/core/hex.ts';
import {
  buildSubtreeRequest,
  generateKey,
  keyFromSecret,
  parseKeyPair,
  signSubtreeRequest,
  signTransaction,
  subtreeIdHex,
  toAmount,
  tokenGenesis,
} from '../../src/client/index.ts';

const SCHEMES: Scheme[] = ['ed25519', 'secp256k1', 'bip340'];
const SUBTREE = 'cd'.repeat(32);

describe('client keys', () => {
  test.each(SCHEMES)('generateKey(%s) yields a valid key whose public key derives from the secret', (scheme) => {
    const k = generateKey(scheme);
    expect(k.scheme).toBe(scheme);
    expect(k.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(parsePublicKey(k.publicKey).scheme).toBe(scheme);
    expect(k.publicKey).toBe(publicKeyFromSecret(scheme, fromHex(k.secret)));
    expect(keyFromSecret(scheme, k.secret)).toEqual(k);
  });

  test('two generated keys differ (fresh randomness)', () => {
    expect(generateKey().secret).not.toBe(generateKey().secret);
  });

  test('parseKeyPair refuses a public key that does not belong to the secret', () => {
    const a = generateKey();
    const b = generateKey();
    expect(parseKeyPair(a)).toEqual(a);
    expect(() => parseKeyPair({ ...a, publicKey: b.publicKey })).toThrow(DstpError);
    expect(() => parseKeyPair({ scheme: 'rsa', secret: a.secret })).toThrow(/unknown key scheme/);
    expect(() => parseKeyPair({ scheme: 'ed25519', secret: 'XYZ' })).toThrow(DstpError);
  });

  test('an out-of-range secp256k1 secret is refused', () => {
    expect(() => keyFromSecret('secp256k1', '00'.repeat(32))).toThrow(DstpError);
    expect(() => keyFromSecret('secp256k1', 'ff'.repeat(32))).toThrow(DstpError);
  });
});

describe('signTransaction', () => {
  test.each(SCHEMES)('%s: the envelope parses strictly, its id is the core tx id and its signature verifies', (scheme) => {
    const key = generateKey(scheme);
    const to = generateKey().publicKey;
    const { id, envelope } = signTransaction({ network: 'dstp-test', subtree: SUBTREE, key, nonce: 3, call: 'transfer', args: { to, amount: '2' } });
    const parsed = parseTxEnvelope(JSON.parse(JSON.stringify(envelope)));
    expect(parsed.tx.sender).toBe(key.publicKey);
    expect(parsed.tx.nonce).toBe(3);
    expect(id).toBe(txIdHex(parsed.tx));
    expect(verifyTxSignature(parsed)).toBe(true);
    // Another key's signature over the same tx must not pass as the sender's.
    const other = signTransaction({ network: 'dstp-test', subtree: SUBTREE, key: generateKey(scheme), nonce: 3, call: 'transfer', args: { to, amount: '2' } });
    expect(verifyTxSignature({ tx: parsed.tx, sig: other.envelope.sig })).toBe(false);
  });

  test('BIP-340 signatures use fresh auxiliary randomness: different bytes, same id, both valid', () => {
    const key = generateKey('bip340');
    const draft = { network: 'dstp-test', subtree: SUBTREE, key, nonce: 0, call: 'burn', args: { amount: '1' } };
    const a = signTransaction(draft);
    const b = signTransaction(draft);
    expect(a.id).toBe(b.id);
    expect(a.envelope.sig).not.toBe(b.envelope.sig);
    expect(verifyTxSignature(a.envelope)).toBe(true);
    expect(verifyTxSignature(b.envelope)).toBe(true);
  });

  test('ed25519 signing is deterministic (resubmission is idempotent byte for byte)', () => {
    const key = generateKey();
    const draft = { network: 'dstp-test', subtree: SUBTREE, key, nonce: 0, call: 'burn', args: { amount: '1' } };
    expect(signTransaction(draft).envelope).toEqual(signTransaction(draft).envelope);
  });

  test('malformed drafts fail before signing, with the core error code', () => {
    const key = generateKey();
    const base = { network: 'dstp-test', subtree: SUBTREE, key, nonce: 0, call: 'transfer', args: {} };
    for (const bad of [{ ...base, nonce: -1 }, { ...base, subtree: 'AB'.repeat(32) }, { ...base, call: 'Transfer' }, { ...base, network: 'Bad Net' }]) {
      expect(() => signTransaction(bad)).toThrow(DstpError);
    }
    expect(() => signTransaction({ ...base, key: { ...key, publicKey: generateKey().publicKey } })).toThrow(/does not belong/);
  });
});

describe('subtree creation requests', () => {
  const owner = generateKey();
  const authority = generateKey('secp256k1');
  const alice = generateKey().publicKey;
  const bob = generateKey('bip340').publicKey;
  const spec = buildSubtreeRequest({
    network: 'dstp-test',
    owner: owner.publicKey,
    name: 'my-app',
    program: 'token',
    config: { symbol: 'TOK', decimals: 0, minter: owner.publicKey },
    mode: { type: 'poa', authority: authority.publicKey },
    genesis: tokenGenesis({ [alice]: 10, [bob]: '1' }),
  });

  test('tokenGenesis adds supply = sum of balances, as the token program requires', () => {
    const g = tokenGenesis({ [alice]: 10n, [bob]: '1' });
    expect(g).toEqual([
      { key: `balance/${alice}`, value: '10' },
      { key: `balance/${bob}`, value: '1' },
      { key: 'supply', value: '11' },
    ]);
    expect(tokenGenesis({})).toEqual([]);
    expect(() => tokenGenesis({ [alice]: 0 })).toThrow(/> 0/);
    expect(() => tokenGenesis({ [alice]: '007' })).toThrow(DstpError);
    expect(() => tokenGenesis({ [alice]: 1.5 })).toThrow(DstpError);
  });

  test('toAmount gives canonical decimal strings', () => {
    expect(toAmount(0)).toBe('0');
    expect(toAmount(12n)).toBe('12');
    expect(toAmount('340282366920938463463374607431768211456')).toBe('340282366920938463463374607431768211456');
    expect(() => toAmount(-1)).toThrow(DstpError);
    expect(() => toAmount(' 1')).toThrow(DstpError);
  });

  test('defaults: parent is the root object, id is objectId(root, owner, name)', () => {
    expect(spec.parent).toBe('00'.repeat(32));
    expect(subtreeIdHex(spec)).toBe(toHex(objectId(ROOT_ID, owner.publicKey, 'my-app')));
  });

  test('owner + authority signatures satisfy the core creation rule; the body parses strictly', () => {
    const body = signSubtreeRequest(spec, [owner, authority]);
    const parsed = parseSubtreeRequest(JSON.parse(JSON.stringify(body)), NATIVE_PROGRAMS);
    const check = checkCreationSignatures(parsed.subtree, parsed.sigs);
    expect(check).toEqual({ ok: true, signers: [owner.publicKey, authority.publicKey], missing: [] });
    for (const s of body.sigs) expect(verifyDigest(s.signer, digest('subtree', spec), s.sig)).toBe(true);
  });

  test('the owner alone leaves the authority missing (the node adds it for an admin caller)', () => {
    const body = signSubtreeRequest(spec, [owner, owner]);
    expect(body.sigs).toHaveLength(1);
    const check = checkCreationSignatures(body.subtree, body.sigs);
    expect(check.ok).toBe(false);
    expect(check.missing).toEqual([{ rule: 'authority', key: authority.publicKey }]);
  });

  test('a request the owner does not sign is refused', () => {
    expect(() => signSubtreeRequest(spec, [authority])).toThrow(/owner must sign/);
  });

  test('invalid drafts are refused by the core parsers; program checks need a registry', () => {
    const draft = {
      network: 'dstp-test',
      owner: owner.publicKey,
      name: 'my-app',
      program: 'token',
      config: { symbol: 'TOK', decimals: 0, minter: owner.publicKey },
      mode: { type: 'poa' as const, authority: authority.publicKey },
    };
    expect(() => buildSubtreeRequest({ ...draft, name: 'My App' })).toThrow(DstpError);
    expect(() => buildSubtreeRequest({ ...draft, program: 'Not A Name' })).toThrow(DstpError);
    // Without program code the SDK checks names only; the node (and a caller with a registry) checks the rest.
    expect(buildSubtreeRequest({ ...draft, program: 'nope' }).program).toBe('nope');
    expect(() => buildSubtreeRequest({ ...draft, program: 'nope' }, NATIVE_PROGRAMS)).toThrow(DstpError);
    expect(() => buildSubtreeRequest({ ...draft, genesis: [{ key: `balance/${alice}`, value: '5' }] }, NATIVE_PROGRAMS)).toThrow(/supply/);
  });
});
