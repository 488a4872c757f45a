import { digest } from '../digest.ts';
import { DstpError, fail } from '../errors.ts';
import type { Sha256 } from '../hash.ts';
import { fromHex, toHex } from '../hex.ts';
import { verifyDigest } from '../keys.ts';
import { parseRoundHeader, roundHash, type RoundHeader } from '../round.ts';
import { exactObject, isPlainObject } from '../strict.ts';
import { expireDigest, parseExpireObject, type ExpireObject } from './expiry.ts';
import { parseKeyField, parseSigHex } from '../tx.ts';

/**
 * Equivocation evidence (SPEC §5, pos): two different round headers for the same subtree and
 * height, both signed by one validator. It is self-authenticating — anyone can check it with the
 * validator's public key alone — so the node accepts it from anyone and the slash it causes can be
 * re-checked by every replica from the log.
 *
 * ```json
 * { "validator": "ed25519:…",
 *   "a": { "header": { …round header… }, "sig": "<hex>" },
 *   "b": { "header": { …round header… }, "sig": "<hex>" } }
 * ```
 */
export interface SignedHeader {
  header: RoundHeader;
  sig: string;
}

export interface Evidence {
  validator: string;
  a: SignedHeader;
  b: SignedHeader;
}

/** What verified evidence proves. `id` names the equivocation, whichever header came first. */
export interface EvidenceFacts {
  id: string;
  validator: string;
  network: string;
  subtree: string;
  height: number;
  /** The two round hashes, ascending. */
  rounds: [string, string];
}

function parseSigned(v: unknown, field: string): SignedHeader {
  const o = exactObject(v, ['header', 'sig'], 'invalid_evidence', field);
  let header: RoundHeader;
  try {
    header = parseRoundHeader(o.header);
  } catch (e) {
    fail('invalid_evidence', `${field}.header: ${e instanceof Error ? e.message : String(e)}`, { field: `${field}.header` });
  }
  return { header, sig: parseSigHex(o.sig, `${field}.sig`, 'invalid_evidence') };
}

/** Strict shape check → DstpError('invalid_evidence'). Does not verify signatures. */
export function parseEvidence(v: unknown): Evidence {
  const o = exactObject(v, ['validator', 'a', 'b'], 'invalid_evidence', 'evidence');
  const validator = parseKeyField(o.validator, 'evidence.validator', 'invalid_evidence');
  return { validator, a: parseSigned(o.a, 'evidence.a'), b: parseSigned(o.b, 'evidence.b') };
}

/**
 * Checks that the evidence proves equivocation: same network, subtree and height, different round
 * hashes, and both signatures by `validator` over those hashes. Throws `invalid_evidence` naming
 * the first link that fails. Whether the key is a validator of the subtree is the caller's check
 * (it depends on the state).
 */
export function verifyEvidence(e: Evidence, hash?: Sha256): EvidenceFacts {
  const { a, b } = e;
  for (const f of ['network', 'subtree', 'height'] as const) {
    if (a.header[f] !== b.header[f]) {
      fail('invalid_evidence', `the two headers differ in ${f}: equivocation needs the same subtree and height`, { field: `evidence.b.header.${f}` });
    }
  }
  const ha = roundHash(a.header, hash);
  const hb = roundHash(b.header, hash);
  const hexA = toHex(ha);
  const hexB = toHex(hb);
  if (hexA === hexB) fail('invalid_evidence', 'the two headers are the same round: no equivocation', { field: 'evidence.b.header' });
  for (const [side, h, sig] of [['a', ha, a.sig], ['b', hb, b.sig]] as const) {
    let ok = false;
    try {
      ok = verifyDigest(e.validator, h, fromHex(sig, 64));
    } catch (err) {
      if (!(err instanceof DstpError)) throw err;
    }
    if (!ok) fail('invalid_evidence', `evidence.${side}.sig is not ${e.validator}'s signature over that header's round hash`, { field: `evidence.${side}.sig` });
  }
  const rounds: [string, string] = hexA < hexB ? [hexA, hexB] : [hexB, hexA];
  const facts = { validator: e.validator, network: a.header.network, subtree: a.header.subtree, height: a.header.height, rounds };
  return { id: evidenceId(facts, hash), ...facts };
}

/**
 * `digest("evidence", {v: 1, network, subtree, height, validator, rounds})` with `rounds` the two
 * round hashes in ascending order: the same equivocation gets one id whichever way round it is sent.
 */
export function evidenceId(f: Omit<EvidenceFacts, 'id'>, hash?: Sha256): string {
  return toHex(
    digest('evidence', { v: 1, network: f.network, subtree: f.subtree, height: f.height, validator: f.validator, rounds: f.rounds }, hash),
  );
}

/**
 * Multisig equivocation evidence (SPEC §5): one signer signed two different headers at one height
 * (`a` and `b`), or a header and an expiry vote for it (`a` and `expire`).
 *
 * ```json
 * { "signer": "ed25519:…", "a": { "header": {…}, "sig": "<hex>" },
 *   "b": { "header": {…}, "sig": "<hex>" } | "expire": { "expire": {v, network, subtree, height, round}, "sig": "<hex>" } }
 * ```
 * Its id is `digest("evidence", {v: 1, network, subtree, height, signer, rounds})` with `rounds`
 * the two round hashes ascending, or `[round, "expire"]` for a header and its expiry vote.
 * Whether the signer is one in force at that height, and whether a valid expiry certificate for
 * one of two headers refutes it, are the caller's checks (they depend on state).
 */
export interface MultisigEvidence {
  signer: string;
  a: SignedHeader;
  b?: SignedHeader;
  expire?: { expire: ExpireObject; sig: string };
}

export interface MultisigEvidenceFacts {
  id: string;
  signer: string;
  network: string;
  subtree: string;
  height: number;
  kind: 'headers' | 'expire';
  /** The round hashes involved (two headers: ascending; header and vote: the one round). */
  rounds: string[];
}

export function isMultisigEvidence(v: unknown): boolean {
  return isPlainObject(v) && 'signer' in v;
}

export function parseMultisigEvidence(v: unknown): MultisigEvidence {
  const o = exactObject(v, ['signer', 'a'], 'invalid_evidence', 'evidence', ['b', 'expire']);
  const signer = parseKeyField(o.signer, 'evidence.signer', 'invalid_evidence');
  if ((o.b === undefined) === (o.expire === undefined)) fail('invalid_evidence', 'evidence needs exactly one of "b" (a second header) and "expire" (an expiry vote)', { field: 'evidence' });
  const a = parseSigned(o.a, 'evidence.a');
  if (o.b !== undefined) return { signer, a, b: parseSigned(o.b, 'evidence.b') };
  const e = exactObject(o.expire, ['expire', 'sig'], 'invalid_evidence', 'evidence.expire');
  return { signer, a, expire: { expire: parseExpireObject(e.expire, 'evidence.expire.expire', 'invalid_evidence'), sig: parseSigHex(e.sig, 'evidence.expire.sig', 'invalid_evidence') } };
}

function signedBy(key: string, d: Uint8Array, sig: string, field: string): void {
  let ok = false;
  try {
    ok = verifyDigest(key, d, fromHex(sig, 64));
  } catch (err) {
    if (!(err instanceof DstpError)) throw err;
  }
  if (!ok) fail('invalid_evidence', `${field} is not ${key}'s signature`, { field });
}

/** Checks the signatures and that the two signed objects conflict; throws `invalid_evidence` naming the first link that fails. */
export function verifyMultisigEvidence(e: MultisigEvidence, hash?: Sha256): MultisigEvidenceFacts {
  const ha = roundHash(e.a.header, hash);
  const hexA = toHex(ha);
  signedBy(e.signer, ha, e.a.sig, 'evidence.a.sig');
  const { network, subtree, height } = e.a.header;
  let rounds: string[];
  let kind: 'headers' | 'expire';
  if (e.b) {
    for (const f of ['network', 'subtree', 'height'] as const) {
      if (e.a.header[f] !== e.b.header[f]) fail('invalid_evidence', `the two headers differ in ${f}: equivocation needs the same subtree and height`, { field: `evidence.b.header.${f}` });
    }
    const hb = roundHash(e.b.header, hash);
    const hexB = toHex(hb);
    if (hexA === hexB) fail('invalid_evidence', 'the two headers are the same round: no equivocation', { field: 'evidence.b.header' });
    signedBy(e.signer, hb, e.b.sig, 'evidence.b.sig');
    rounds = hexA < hexB ? [hexA, hexB] : [hexB, hexA];
    kind = 'headers';
  } else {
    const x = e.expire!.expire;
    const want = { network, subtree, height, round: hexA };
    for (const f of ['network', 'subtree', 'height', 'round'] as const) {
      if (x[f] !== want[f]) fail('invalid_evidence', `the expiry vote's ${f} is not the header's: it does not vote against that header`, { field: `evidence.expire.expire.${f}` });
    }
    signedBy(e.signer, expireDigest(x, hash), e.expire!.sig, 'evidence.expire.sig');
    rounds = [hexA, 'expire'];
    kind = 'expire';
  }
  const id = toHex(digest('evidence', { v: 1, network, subtree, height, signer: e.signer, rounds }, hash));
  return { id, signer: e.signer, network, subtree, height, kind, rounds: kind === 'headers' ? rounds : [hexA] };
}
