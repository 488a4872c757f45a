import { digest } from './digest.ts';
import type { Sha256 } from './hash.ts';
import { toHex } from './hex.ts';

/** A user program's id (SPEC §7.1): `hex(digest("program", { engine, source }))`. */
export function programId(engine: string, source: string, hash?: Sha256): string {
  return toHex(digest('program', { engine, source }, hash));
}
