import { fail } from './errors.ts';
import { sha256, type Sha256 } from './hash.ts';
import { concatBytes, toHex, utf8 } from './hex.ts';
import { parsePublicKey } from './keys.ts';

/**
 * Object IDs of SPEC §3. The owner's key is part of the preimage, so nobody but the owner can
 * create (squat) an ID; the same parent, owner and name give the same ID on every node.
 */

/** The global state tree's ID: 32 zero bytes. Treat as read-only. */
export const ROOT_ID: Uint8Array = new Uint8Array(32);
export const ROOT_ID_HEX = toHex(ROOT_ID);

const OBJECT_PREFIX = utf8('DSTP/object/v1\n');
const NAME_RE = /^[a-z0-9._-]{1,64}$/;

export function isValidObjectName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name);
}

export function assertObjectName(name: unknown): asserts name is string {
  if (!isValidObjectName(name)) {
    fail('invalid_name', 'object name must be 1-64 characters of [a-z0-9._-]', {
      got: typeof name === 'string' ? name.slice(0, 80) : typeof name,
    });
  }
}

/**
 * `H(utf8("DSTP/object/v1\n") || parentId || H(utf8(owner)) || H(utf8(name)))`.
 * `owner` must be a canonical public key string (it is the creator's address).
 */
export function objectId(parentId: Uint8Array, owner: string, name: string, hash: Sha256 = sha256): Uint8Array {
  if (!(parentId instanceof Uint8Array) || parentId.length !== 32) {
    fail('invalid_length', 'parent object ID must be 32 bytes', { got: parentId?.length });
  }
  parsePublicKey(owner);
  assertObjectName(name);
  return hash(concatBytes(OBJECT_PREFIX, parentId, hash(utf8(owner)), hash(utf8(name))));
}
