import { digest } from '../digest.ts';
import { sha256, type Sha256 } from '../hash.ts';

/**
 * Resuming a halted multisig subtree (SPEC §5):
 *
 *   resume = { "v": 1, "network", "subtree", "action": "resume", "height", "halt", "round",
 *              "evidence"? }
 *   digest = digest("resume", resume) = H(utf8("DSTP/resume/v1\n") || jcs(resume))
 *
 * `height` is the subtree's latest final round and `round` its hash, so signers resume exactly the
 * history they verified; `halt` is the 1-based number of the halt being lifted, so a signature for
 * one halt cannot be replayed to lift a later one. A halt caused by equivocation evidence is lifted
 * only by a resume that names the evidence (`evidence` = its id); no other resume carries the field.
 */
export interface ResumeObject {
  v: 1;
  network: string;
  subtree: string;
  action: 'resume';
  height: number;
  halt: number;
  /** Hash of round `height`. */
  round: string;
  /** The id of the equivocation evidence that caused the halt, when that is what did. */
  evidence?: string;
}

export function resumeObject(r: { network: string; subtree: string; height: number; halt: number; round: string; evidence?: string | null | undefined }): ResumeObject {
  const o: ResumeObject = { v: 1, network: r.network, subtree: r.subtree, action: 'resume', height: r.height, halt: r.halt, round: r.round };
  if (typeof r.evidence === 'string') o.evidence = r.evidence;
  return o;
}

export function resumeDigest(r: ResumeObject, hash: Sha256 = sha256): Uint8Array {
  return digest('resume', r, hash);
}
