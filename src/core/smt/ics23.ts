import { ics23 } from '@confio/ics23';
import { fail } from '../errors.ts';
import { sha256, type Sha256 } from '../hash.ts';
import { fromHex, toHex } from '../hex.ts';
import { jcsBytes, type JsonValue } from '../jcs.ts';
import { INNER_TAG, LEAF_TAG, MAX_DEPTH_BITS, bitAt, pathOf } from './hashing.ts';
import type { Proof } from './types.ts';

/**
 * ICS-23 view of SPEC §4 inclusion proofs, for IBC-style light clients that check proofs with
 * `@confio/ics23` and its `smtSpec`: the key is `path(k)` (so the spec's `prehashKey: NO_HASH`
 * holds), the value is `jcs(value)` (hashed by `prehashValue: SHA256` into our valueHash), and
 * each inner step puts the sibling in the prefix or suffix around the running hash.
 *
 * Non-existence is not offered: @confio/ics23 0.6.8 ignores `innerSpec.emptyChild`, so its
 * neighbour checks reject compact-tree neighbours whose path passes an empty sibling, which is
 * common. SPEC §4 exclusion proofs cover absence.
 */

const LEAF_OP: ics23.ILeafOp = {
  hash: ics23.HashOp.SHA256,
  prehashKey: ics23.HashOp.NO_HASH,
  prehashValue: ics23.HashOp.SHA256,
  length: ics23.LengthOp.NO_PREFIX,
  prefix: Uint8Array.of(LEAF_TAG),
};

export interface Ics23Existence {
  /** The decoded-form `CommitmentProof` holding one existence proof. */
  proof: ics23.ICommitmentProof;
  /** Its protobuf encoding. */
  bytes: Uint8Array;
  /** What to pass to `verifyMembership` as key and value. */
  key: Uint8Array;
  value: Uint8Array;
}

/** Converts an inclusion proof (checked against `value`) into an ICS-23 existence proof. */
export function toIcs23Existence(proof: Proof, value: JsonValue, hash: Sha256 = sha256): Ics23Existence {
  const path = pathOf(proof.key, hash);
  if (proof.leaf === null || proof.leaf.path !== toHex(path)) {
    fail('invalid_proof', 'ICS-23 existence needs an inclusion proof for this key');
  }
  const valueBytes = jcsBytes(value);
  if (proof.leaf.valueHash !== toHex(hash(valueBytes))) fail('invalid_proof', 'value hash mismatch');
  const depth = proof.siblings.length;
  if (depth > MAX_DEPTH_BITS) fail('invalid_proof', `too many siblings: ${depth} > ${MAX_DEPTH_BITS}`);

  const steps: ics23.IInnerOp[] = [];
  for (let j = 0; j < depth; j++) {
    const sibling = fromHex(proof.siblings[j]!, 32, `siblings[${j}]`);
    const onRight = bitAt(path, depth - 1 - j) === 1;
    steps.push(
      onRight
        ? { hash: ics23.HashOp.SHA256, prefix: concat(Uint8Array.of(INNER_TAG), sibling), suffix: new Uint8Array(0) }
        : { hash: ics23.HashOp.SHA256, prefix: Uint8Array.of(INNER_TAG), suffix: sibling },
    );
  }
  const commitment: ics23.ICommitmentProof = {
    exist: { key: path, value: valueBytes, leaf: LEAF_OP, path: steps },
  };
  return {
    proof: commitment,
    bytes: ics23.CommitmentProof.encode(commitment).finish(),
    key: path,
    value: valueBytes,
  };
}

/**
 * Reads an ICS-23 existence proof of a compact SHA-256 SMT back into SPEC §4 shape, so our own
 * verifier can judge it. Accepts keys given as the path (`prehashKey: NO_HASH`, our form) or as
 * the raw key hashed by the leaf op (`prehashKey: SHA256`, as celestia's smt emits); values are
 * always hashed by the leaf op. `key` is the UTF-8 key the proof is claimed for.
 */
export function fromIcs23Existence(
  exist: ics23.IExistenceProof,
  claim: { key: string; root: string },
  hash: Sha256 = sha256,
): Proof {
  const leaf = exist.leaf;
  if (!leaf || !exist.key || !exist.value) fail('invalid_proof', 'ICS-23 existence proof lacks key, value or leaf');
  if ((leaf.hash ?? 0) !== ics23.HashOp.SHA256) fail('invalid_proof', 'leaf op must hash with SHA-256');
  if ((leaf.prehashValue ?? 0) !== ics23.HashOp.SHA256) fail('invalid_proof', 'leaf op must prehash the value with SHA-256');
  if ((leaf.length ?? 0) !== ics23.LengthOp.NO_PREFIX) fail('invalid_proof', 'leaf op must not length-prefix');
  if (!leaf.prefix || leaf.prefix.length !== 1 || leaf.prefix[0] !== LEAF_TAG) fail('invalid_proof', 'leaf prefix must be 0x00');

  const prehashKey = leaf.prehashKey ?? ics23.HashOp.NO_HASH;
  let path: Uint8Array;
  if (prehashKey === ics23.HashOp.SHA256) path = hash(exist.key);
  else if (prehashKey === ics23.HashOp.NO_HASH && exist.key.length === 32) path = exist.key;
  else fail('invalid_proof', 'leaf key must be a 32-byte path or a SHA-256-prehashed key');

  const steps = exist.path ?? [];
  if (steps.length > MAX_DEPTH_BITS) fail('invalid_proof', `too many siblings: ${steps.length} > ${MAX_DEPTH_BITS}`);
  const depth = steps.length;
  const siblings: string[] = [];
  for (let j = 0; j < depth; j++) {
    const step = steps[j]!;
    const prefix = step.prefix ?? new Uint8Array(0);
    const suffix = step.suffix ?? new Uint8Array(0);
    if ((step.hash ?? 0) !== ics23.HashOp.SHA256 || prefix[0] !== INNER_TAG) {
      fail('invalid_proof', `inner step ${j} is not SHA-256 over 0x01 || left || right`);
    }
    let sibling: Uint8Array;
    let onRight: boolean;
    if (prefix.length === 1 && suffix.length === 32) {
      sibling = suffix;
      onRight = false;
    } else if (prefix.length === 33 && suffix.length === 0) {
      sibling = prefix.subarray(1);
      onRight = true;
    } else {
      fail('invalid_proof', `inner step ${j} does not carry exactly one 32-byte sibling`);
    }
    if (onRight !== (bitAt(path, depth - 1 - j) === 1)) {
      fail('invalid_proof', `inner step ${j} goes the other way than the key's path`, { step: j });
    }
    siblings.push(toHex(sibling));
  }
  return {
    key: claim.key,
    root: claim.root,
    leaf: { path: toHex(path), valueHash: toHex(hash(exist.value)) },
    siblings,
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
