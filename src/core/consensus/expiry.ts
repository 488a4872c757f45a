import { digest } from '../digest.ts';
import { DstpError, fail } from '../errors.ts';
import type { Sha256 } from '../hash.ts';
import { fromHex, isHex32, toHex } from '../hex.ts';
import { verifyDigest } from '../keys.ts';
import { exactObject, isSafeInt } from '../strict.ts';
import { parseKeyField, parseSigHex } from '../tx.ts';
import type { MultisigMode } from './mode.ts';
import type { SignerSig } from './signing-rules.ts';

/**
 * Expiry of multisig proposals by certificate (SPEC §5). An expiry vote for proposal P (height h,
 * round hash p) is a signature over `digest("expire", {v: 1, network, subtree, height: h, round: p})`;
 * a certificate is `t` such votes by distinct signers in force for height h. A final P has t
 * signers and an expired P t others, so with fewer than `2t − n` faulty signers no P is both: the
 * node's word that P expired counts for nothing, only a certificate does.
 */
export interface ExpireObject {
  v: 1;
  network: string;
  subtree: string;
  height: number;
  round: string;
}

export interface ExpiryCertificate {
  expire: ExpireObject;
  sigs: SignerSig[];
}

export function expireObject(e: { network: string; subtree: string; height: number; round: string }): ExpireObject {
  return { v: 1, network: e.network, subtree: e.subtree, height: e.height, round: e.round };
}

export function expireDigest(e: ExpireObject, hash?: Sha256): Uint8Array {
  return digest('expire', expireObject(e), hash);
}

/** Strict shape of an expire object → `code` naming `field` otherwise. */
export function parseExpireObject(v: unknown, field = 'expire', code: 'invalid_request' | 'invalid_evidence' = 'invalid_request'): ExpireObject {
  const o = exactObject(v, ['v', 'network', 'subtree', 'height', 'round'], code, field);
  if (o.v !== 1) fail(code, `${field}.v must be 1`, { field: `${field}.v` });
  if (typeof o.network !== 'string' || o.network.length === 0) fail(code, `${field}.network must be a string`, { field: `${field}.network` });
  if (!isHex32(o.subtree)) fail(code, `${field}.subtree must be 32 bytes of lowercase hex`, { field: `${field}.subtree` });
  if (!isSafeInt(o.height, 1)) fail(code, `${field}.height must be an integer >= 1`, { field: `${field}.height` });
  if (!isHex32(o.round)) fail(code, `${field}.round must be 32 bytes of lowercase hex`, { field: `${field}.round` });
  return expireObject({ network: o.network, subtree: o.subtree as string, height: o.height, round: o.round as string });
}

/** Strict shape of a certificate (at most 64 votes, as many as a mode has signers). */
export function parseCertificate(v: unknown, field = 'certificate', code: 'invalid_request' | 'invalid_evidence' = 'invalid_request'): ExpiryCertificate {
  const o = exactObject(v, ['expire', 'sigs'], code, field);
  const expire = parseExpireObject(o.expire, `${field}.expire`, code);
  if (!Array.isArray(o.sigs) || o.sigs.length > 64) fail(code, `${field}.sigs must list at most 64 votes`, { field: `${field}.sigs` });
  const sigs = o.sigs.map((s, i) => {
    const x = exactObject(s, ['signer', 'sig'], code, `${field}.sigs[${i}]`);
    return { signer: parseKeyField(x.signer, `${field}.sigs[${i}].signer`, code), sig: parseSigHex(x.sig, `${field}.sigs[${i}].sig`, code) };
  });
  return { expire, sigs };
}

/**
 * Checks `cert` as an expiry certificate for round `want.round` at `want.height` of `want.subtree`
 * on `want.network`, under `mode` (the signers in force for that height): the expire object must
 * be exactly that one, and at least `threshold` distinct signers of `mode` must have valid votes
 * over its digest. Returns null when it holds, else the reason (what a co-signer reports).
 */
export function certificateFlaw(
  cert: ExpiryCertificate,
  want: { network: string; subtree: string; height: number; round: string },
  mode: Pick<MultisigMode, 'signers' | 'threshold'>,
  hash?: Sha256,
): string | null {
  const e = cert.expire;
  for (const f of ['network', 'subtree', 'height', 'round'] as const) {
    if (e[f] !== want[f]) return `the certificate's expire.${f} is ${JSON.stringify(e[f])}, not ${JSON.stringify(want[f])}`;
  }
  if (e.v !== 1) return 'the certificate\'s expire.v is not 1';
  const d = expireDigest(e, hash);
  const valid = new Set<string>();
  for (const s of cert.sigs) {
    if (!mode.signers.includes(s.signer) || valid.has(s.signer)) continue;
    if (voteVerifies(s, d)) valid.add(s.signer);
  }
  if (valid.size < mode.threshold) {
    return `the certificate holds ${valid.size} valid votes of distinct current signers; ${mode.threshold} are needed`;
  }
  return null;
}

/** Whether `s.sig` is `s.signer`'s signature over the expire digest `d` (malformed = false). */
export function voteVerifies(s: SignerSig, d: Uint8Array): boolean {
  try {
    return verifyDigest(s.signer, d, fromHex(s.sig, 64));
  } catch (err) {
    if (err instanceof DstpError) return false;
    throw err;
  }
}
