import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { DstpError } from '../../src/core/errors.ts';
import { toHex } from '../../src/core/hex.ts';
import { assertObjectName, isValidObjectName, objectId, ROOT_ID, ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { nativeSha256 } from '../../src/platform/sha256.ts';

const OWNER = 'ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const OTHER = 'secp256k1:0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';

/** SPEC §3 written out independently with node:crypto. */
function referenceId(parentHex: string, owner: string, name: string): string {
  const h = (b: Buffer | string) => createHash('sha256').update(b).digest();
  return createHash('sha256')
    .update(Buffer.from('DSTP/object/v1\n', 'utf8'))
    .update(Buffer.from(parentHex, 'hex'))
    .update(h(Buffer.from(owner, 'utf8')))
    .update(h(Buffer.from(name, 'utf8')))
    .digest('hex');
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DstpError) return e.code;
    throw e;
  }
  return undefined;
}

describe('objectId (SPEC §3)', () => {
  test('ROOT_ID is 32 zero bytes', () => {
    expect(ROOT_ID.length).toBe(32);
    expect(ROOT_ID.every((b) => b === 0)).toBe(true);
    expect(ROOT_ID_HEX).toBe('0'.repeat(64));
  });

  test('matches the formula computed independently', () => {
    expect(toHex(objectId(ROOT_ID, OWNER, 'wallet'))).toBe(referenceId(ROOT_ID_HEX, OWNER, 'wallet'));
    const child = objectId(ROOT_ID, OWNER, 'game');
    expect(toHex(objectId(child, OTHER, 'room.1_a-b'))).toBe(referenceId(toHex(child), OTHER, 'room.1_a-b'));
  });

  test('same inputs give the same ID; any change gives another', () => {
    const id = toHex(objectId(ROOT_ID, OWNER, 'x'));
    expect(toHex(objectId(new Uint8Array(32), OWNER, 'x'))).toBe(id);
    const others = [
      objectId(ROOT_ID, OTHER, 'x'),
      objectId(ROOT_ID, OWNER, 'y'),
      objectId(objectId(ROOT_ID, OWNER, 'x'), OWNER, 'x'),
    ].map(toHex);
    expect(new Set([id, ...others]).size).toBe(4);
  });

  test('an injected native hash gives the same ID', () => {
    expect(toHex(objectId(ROOT_ID, OWNER, 'w', nativeSha256()))).toBe(toHex(objectId(ROOT_ID, OWNER, 'w')));
  });

  test('owner must be a canonical public key string', () => {
    expect(codeOf(() => objectId(ROOT_ID, OWNER.toUpperCase(), 'x'))).toBe('unsupported_scheme');
    expect(codeOf(() => objectId(ROOT_ID, OWNER.replace('d75a', 'D75A'), 'x'))).toBe('invalid_key');
    expect(codeOf(() => objectId(ROOT_ID, 'alice', 'x'))).toBe('invalid_key');
  });

  test('parent must be 32 bytes', () => {
    expect(codeOf(() => objectId(new Uint8Array(31), OWNER, 'x'))).toBe('invalid_length');
  });
});

describe('object names', () => {
  const good = ['a', '0', '.', '_', '-', 'a.b_c-d9', 'x'.repeat(64), 'abcdefghijklmnopqrstuvwxyz0123456789._-'];
  const bad: unknown[] = ['', 'x'.repeat(65), 'A', 'a b', 'a/b', 'é', 'a\n', 'ab:c', 'a\u0000', 42, null, undefined, ['a']];

  for (const n of good) {
    test(`accepts ${JSON.stringify(n).slice(0, 20)}`, () => {
      expect(isValidObjectName(n)).toBe(true);
      expect(() => assertObjectName(n)).not.toThrow();
      expect(objectId(ROOT_ID, OWNER, n).length).toBe(32);
    });
  }
  for (const n of bad) {
    test(`refuses ${String(JSON.stringify(n)).slice(0, 20)}`, () => {
      expect(isValidObjectName(n)).toBe(false);
      expect(codeOf(() => assertObjectName(n))).toBe('invalid_name');
      expect(codeOf(() => objectId(ROOT_ID, OWNER, n as string))).toBe('invalid_name');
    });
  }
});
