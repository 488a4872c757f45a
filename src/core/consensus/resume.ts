import { sha256, type Sha256 } from '../hash.ts';
import { concatBytes, utf8 } from '../hex.ts';
import { jcsBytes } from '../jcs.ts';

/**
 * Resuming a halted multisig subtree (SPEC §5: "halted … until the signers sign a resume"). SPEC
 * v1 names no object or tag for it, so this implementation defines one (docs/protocol.md):
 *
 *   resume = { "v": 1, "network", "subtree", "action": "resume", "height", "halt" }
 *   digest = H(utf8("DSTP/resume/v1\n") || jcs(resume))
 *
 * The construction is the SPEC §1 `digest` with its own tag, so a resume signature can never be
 * mistaken for a round, transaction or creation signature. `height` is the subtree's latest final
 * round and `halt` the 1-based number of the halt being lifted: a signature for one halt cannot
 * be replayed to lift a later one.
 */
export interface ResumeObject {
  v: 1;
  network: string;
  subtree: string;
  action: 'resume';
  height: number;
  halt: number;
}

const RESUME_PREFIX = utf8('DSTP/resume/v1\n');

export function resumeObject(r: { network: string; subtree: string; height: number; halt: number }): ResumeObject {
  return { v: 1, network: r.network, subtree: r.subtree, action: 'resume', height: r.height, halt: r.halt };
}

export function resumeDigest(r: ResumeObject, hash: Sha256 = sha256): Uint8Array {
  return hash(concatBytes(RESUME_PREFIX, jcsBytes(r)));
}
