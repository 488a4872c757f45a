import { sha256, type Sha256 } from './hash.ts';
import { concatBytes, utf8 } from './hex.ts';
import { jcsBytes } from './jcs.ts';

/** Tags of the domain-separated digests of SPEC §1. */
export type DigestTag = 'tx' | 'subtree' | 'round' | 'checkpoint' | 'evidence' | 'accept' | 'expire' | 'resume' | 'program';

const PREFIX: Record<DigestTag, Uint8Array> = {
  tx: utf8('DSTP/tx/v1\n'),
  subtree: utf8('DSTP/subtree/v1\n'),
  round: utf8('DSTP/round/v1\n'),
  checkpoint: utf8('DSTP/checkpoint/v1\n'),
  evidence: utf8('DSTP/evidence/v1\n'),
  accept: utf8('DSTP/accept/v1\n'),
  expire: utf8('DSTP/expire/v1\n'),
  resume: utf8('DSTP/resume/v1\n'),
  program: utf8('DSTP/program/v1\n'),
};

/** `digest(tag, v) = H(utf8("DSTP/" + tag + "/v1\n") || jcs(v))` */
export function digest(tag: DigestTag, value: unknown, hash: Sha256 = sha256): Uint8Array {
  return hash(concatBytes(PREFIX[tag], jcsBytes(value)));
}
