import { formatAmount } from '../amount.ts';
import { digest } from '../digest.ts';
import { fail } from '../errors.ts';
import type { Sha256 } from '../hash.ts';
import { fromHex } from '../hex.ts';
import { parsePublicKey, verifyDigest } from '../keys.ts';
import type { SubtreeSpec } from '../subtree-request.ts';
import type { Mode } from './mode.ts';

/**
 * Who must sign what (SPEC §5). A round is final when its mode's rule holds over valid signatures
 * of its hash; a creation request additionally needs the owner. All three modes share one tally so
 * "threshold distinct signers" and "> 2/3 of stake" are computed in exactly one place.
 */
export interface SignerSig {
  signer: string;
  /** Hex signature over the 32-byte digest. */
  sig: string;
}

/** One signing rule; a set of them must all hold. */
export type Requirement =
  | { rule: 'owner'; key: string }
  | { rule: 'authority'; key: string }
  | { rule: 'threshold'; signers: string[]; threshold: number }
  | { rule: 'stake'; validators: { key: string; stake: string }[] };

/** What is still missing for a requirement: the candidates who could supply it. */
export type Missing =
  | { rule: 'owner' | 'authority'; key: string }
  | { rule: 'threshold'; need: number; have: number; candidates: string[] }
  /** `need` is the smallest signed stake that is > 2/3 of the total. */
  | { rule: 'stake'; need: string; have: string; candidates: string[] };

export interface SignatureCheck {
  ok: boolean;
  /** Distinct keys whose signature verified, in first-seen order. */
  signers: string[];
  missing: Missing[];
}

/** The mode's own rule for a round (poa: the authority; multisig: threshold; pos: > 2/3 stake). */
export function roundSigners(mode: Mode): Requirement {
  switch (mode.type) {
    case 'poa':
      return { rule: 'authority', key: mode.authority };
    case 'multisig':
      return { rule: 'threshold', signers: mode.signers, threshold: mode.threshold };
    case 'pos':
      return { rule: 'stake', validators: mode.validators };
  }
}

/** Creation: the owner must sign, and the mode's rule must hold (SPEC §5). */
export function creationSignersRequired(subtree: Pick<SubtreeSpec, 'owner' | 'mode'>): Requirement[] {
  return [{ rule: 'owner', key: subtree.owner }, roundSigners(subtree.mode)];
}

/** Keys that may sign under a set of requirements. */
export function eligibleKeys(reqs: readonly Requirement[]): Set<string> {
  const keys = new Set<string>();
  for (const r of reqs) {
    if (r.rule === 'owner' || r.rule === 'authority') keys.add(r.key);
    else if (r.rule === 'threshold') for (const k of r.signers) keys.add(k);
    else for (const v of r.validators) keys.add(v.key);
  }
  return keys;
}

/** Which requirements are not met by the given set of (already verified) signers. */
export function missingRequirements(reqs: readonly Requirement[], signed: ReadonlySet<string>): Missing[] {
  const missing: Missing[] = [];
  for (const r of reqs) {
    if (r.rule === 'owner' || r.rule === 'authority') {
      if (!signed.has(r.key)) missing.push({ rule: r.rule, key: r.key });
    } else if (r.rule === 'threshold') {
      const have = r.signers.filter((k) => signed.has(k)).length;
      if (have < r.threshold) {
        missing.push({ rule: 'threshold', need: r.threshold, have, candidates: r.signers.filter((k) => !signed.has(k)) });
      }
    } else {
      let total = 0n;
      let have = 0n;
      for (const v of r.validators) {
        total += BigInt(v.stake);
        if (signed.has(v.key)) have += BigInt(v.stake);
      }
      if (3n * have <= 2n * total) {
        missing.push({
          rule: 'stake',
          need: formatAmount((2n * total) / 3n + 1n),
          have: formatAmount(have),
          candidates: r.validators.filter((v) => !signed.has(v.key)).map((v) => v.key),
        });
      }
    }
  }
  return missing;
}

function verifies(signer: string, digest32: Uint8Array, sigHex: string): boolean {
  try {
    return verifyDigest(parsePublicKey(signer), digest32, fromHex(sigHex, 64));
  } catch {
    return false; // a malformed key or signature is simply not a valid signature
  }
}

/**
 * Checks a creation request's signatures over `digest("subtree", subtree)`. A signature that does
 * not verify, or one by a key no rule asks for, is refused (`bad_signature`): the request carries
 * something it should not, and silently dropping it would hide a client bug. Repeats of a signer
 * are ignored. Returns the requirements still missing, so the node can tell whether its own
 * signature would complete the request.
 */
export function checkCreationSignatures(
  /** The whole validated `subtree`: the digest covers every field. */
  subtree: SubtreeSpec,
  sigs: readonly SignerSig[],
  hash?: Sha256,
): SignatureCheck {
  const reqs = creationSignersRequired(subtree);
  const eligible = eligibleKeys(reqs);
  const d = digest('subtree', subtree, hash);
  const signed = new Set<string>();
  sigs.forEach(({ signer, sig }, i) => {
    if (!eligible.has(signer)) {
      fail('bad_signature', `sigs[${i}] is by a key that is neither the owner nor a signer of the mode`, { field: `sigs[${i}]`, signer });
    }
    if (!verifies(signer, d, sig)) fail('bad_signature', `sigs[${i}] does not verify`, { field: `sigs[${i}]`, signer });
    signed.add(signer);
  });
  const missing = missingRequirements(reqs, signed);
  return { ok: missing.length === 0, signers: [...signed], missing };
}

/**
 * Finality of a round under its mode: valid signatures over `roundHash` meet the mode's rule.
 * Invalid or foreign signatures do not count (they cannot make a round final) and are not errors
 * here; the endpoint that accepts co-signatures refuses them individually.
 */
export function isRoundFinal(mode: Mode, roundHash: Uint8Array, sigs: readonly SignerSig[]): boolean {
  const req = roundSigners(mode);
  const eligible = eligibleKeys([req]);
  const signed = new Set<string>();
  for (const { signer, sig } of sigs) {
    if (eligible.has(signer) && !signed.has(signer) && verifies(signer, roundHash, sig)) signed.add(signer);
  }
  return missingRequirements([req], signed).length === 0;
}
