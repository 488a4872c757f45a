import { describe, expect, test } from 'bun:test';
import { digest } from '../../src/core/digest.ts';
import { DstpError } from '../../src/core/errors.ts';
import { sha256 } from '../../src/core/hash.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import { jcs } from '../../src/core/jcs.ts';
import { MAX_ARGS_BYTES } from '../../src/core/limits.ts';
import { parseTxEnvelope, signTx, txId, verifyTxSignature } from '../../src/core/tx.ts';
import { alice, bob, carol, dave, makeTx, signed } from './core-fixtures.ts';

function codeOf(f: () => unknown): { code: string; field?: unknown } {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return { code: e.code, field: e.details?.field };
    throw e;
  }
  throw new Error('expected a DstpError');
}

const good = () => structuredClone(signed(alice, 0, 'transfer', { to: bob.key, amount: '2' })) as unknown as Record<string, any>;

describe('parseTxEnvelope', () => {
  test('accepts a well-formed envelope and returns the same tx', () => {
    const body = good();
    const env = parseTxEnvelope(body);
    expect(env).toEqual(body as any);
    expect(jcs(env.tx)).toBe(jcs(body.tx));
  });

  const cases: [string, (b: Record<string, any>) => void, string, string?][] = [
    ['unknown envelope field', (b) => (b.extra = 1), 'invalid_tx', 'body.extra'],
    ['missing sig', (b) => delete b.sig, 'invalid_tx', 'body.sig'],
    ['body is an array', (b) => Object.setPrototypeOf(b, Array.prototype), 'invalid_tx'],
    ['unknown tx field', (b) => (b.tx.memo = 'x'), 'invalid_tx', 'tx.memo'],
    ['missing tx field', (b) => delete b.tx.nonce, 'invalid_tx', 'tx.nonce'],
    ['v = 2', (b) => (b.tx.v = 2), 'invalid_tx', 'tx.v'],
    ['v as string', (b) => (b.tx.v = '1'), 'invalid_tx', 'tx.v'],
    ['network uppercase', (b) => (b.tx.network = 'DSTP'), 'invalid_tx', 'tx.network'],
    ['network empty', (b) => (b.tx.network = ''), 'invalid_tx', 'tx.network'],
    ['subtree uppercase hex', (b) => (b.tx.subtree = 'AB'.repeat(32)), 'invalid_tx', 'tx.subtree'],
    ['subtree short', (b) => (b.tx.subtree = 'ab'.repeat(31)), 'invalid_tx', 'tx.subtree'],
    ['subtree 0x', (b) => (b.tx.subtree = '0x' + 'ab'.repeat(31)), 'invalid_tx', 'tx.subtree'],
    ['sender uppercase hex', (b) => (b.tx.sender = b.tx.sender.toUpperCase().replace('ED25519', 'ed25519')), 'invalid_key', 'tx.sender'],
    ['sender unknown scheme', (b) => (b.tx.sender = 'rsa:' + '00'.repeat(32)), 'unsupported_scheme', 'tx.sender'],
    ['sender not a string', (b) => (b.tx.sender = 5), 'invalid_key', 'tx.sender'],
    ['negative nonce', (b) => (b.tx.nonce = -1), 'invalid_tx', 'tx.nonce'],
    ['fractional nonce', (b) => (b.tx.nonce = 1.5), 'invalid_tx', 'tx.nonce'],
    ['unsafe nonce', (b) => (b.tx.nonce = 2 ** 53), 'invalid_tx', 'tx.nonce'],
    ['nonce as string', (b) => (b.tx.nonce = '0'), 'invalid_tx', 'tx.nonce'],
    ['call uppercase', (b) => (b.tx.call = 'Transfer'), 'invalid_tx', 'tx.call'],
    ['call leading digit', (b) => (b.tx.call = '1x'), 'invalid_tx', 'tx.call'],
    ['call too long', (b) => (b.tx.call = 'a'.repeat(33)), 'invalid_tx', 'tx.call'],
    ['args array', (b) => (b.tx.args = []), 'invalid_args', 'tx.args'],
    ['args null', (b) => (b.tx.args = null), 'invalid_args', 'tx.args'],
    ['args with non-finite number', (b) => (b.tx.args = { x: Infinity }), 'invalid_args', 'tx.args'],
    ['args with undefined', (b) => (b.tx.args = { x: undefined }), 'invalid_args', 'tx.args'],
    ['oversized args', (b) => (b.tx.args = { blob: 'x'.repeat(MAX_ARGS_BYTES) }), 'value_too_large', 'tx.args'],
    ['sig uppercase', (b) => (b.sig = b.sig.toUpperCase()), 'invalid_tx', 'sig'],
    ['sig short', (b) => (b.sig = b.sig.slice(2)), 'invalid_tx', 'sig'],
    ['sig not a string', (b) => (b.sig = 1), 'invalid_tx', 'sig'],
  ];
  for (const [name, mutate, code, field] of cases) {
    test(`rejects ${name} → ${code}`, () => {
      const b = good();
      mutate(b);
      const got = codeOf(() => parseTxEnvelope(b));
      expect(got.code).toBe(code);
      if (field) expect(got.field).toBe(field);
    });
  }

  test('args exactly at the limit pass, one byte more fails', () => {
    const b = good();
    const base = utf8(jcs({ blob: '' })).length;
    b.tx.args = { blob: 'x'.repeat(MAX_ARGS_BYTES - base) };
    expect(utf8(jcs(b.tx.args)).length).toBe(MAX_ARGS_BYTES);
    expect(() => parseTxEnvelope(b)).not.toThrow();
    b.tx.args = { blob: 'x'.repeat(MAX_ARGS_BYTES - base + 1) };
    expect(codeOf(() => parseTxEnvelope(b)).code).toBe('value_too_large');
  });

  test('the args limit counts UTF-8 bytes, not characters', () => {
    const b = good();
    b.tx.args = { blob: 'é'.repeat(MAX_ARGS_BYTES / 2) }; // 2 bytes each
    expect(codeOf(() => parseTxEnvelope(b)).code).toBe('value_too_large');
  });
});

describe('tx id and signature', () => {
  test('id = H("DSTP/tx/v1\\n" || jcs(tx)), computed by hand', () => {
    const tx = makeTx(alice, 3, 'transfer', { amount: '5', to: bob.key });
    const byHand = sha256(concatBytes(utf8('DSTP/tx/v1\n'), utf8(jcs(tx))));
    expect(toHex(txId(tx))).toBe(toHex(byHand));
    expect(toHex(txId(tx))).toBe(toHex(digest('tx', tx)));
  });

  test('the id ignores key order of the JSON body', () => {
    const tx = makeTx(alice, 0, 'set', { b: 1, a: 2 });
    const reordered = JSON.parse(JSON.stringify({ args: { a: 2, b: 1 }, call: 'set', nonce: 0, sender: tx.sender, subtree: tx.subtree, network: tx.network, v: 1 }));
    expect(toHex(txId(parseTxEnvelope({ tx: reordered, sig: '00'.repeat(64) }).tx))).toBe(toHex(txId(tx)));
  });

  for (const p of [alice, carol, dave]) {
    test(`${p.scheme}: a real signature verifies; tampering breaks it`, () => {
      const env = signed(p, 7, 'burn', { amount: '1' });
      expect(verifyTxSignature(parseTxEnvelope(env))).toBe(true);
      expect(verifyTxSignature({ tx: { ...env.tx, nonce: 8 }, sig: env.sig })).toBe(false);
      const flipped = fromHex(env.sig);
      flipped[5]! ^= 1;
      expect(verifyTxSignature({ tx: env.tx, sig: toHex(flipped) })).toBe(false);
    });
  }

  test('a signature by another key does not verify', () => {
    const tx = makeTx(alice, 0, 'burn', { amount: '1' });
    const forged = signTx(tx, bob.scheme, bob.secret);
    expect(verifyTxSignature(forged)).toBe(false);
  });
});
