import { digest } from './digest.ts';
import { fail } from './errors.ts';
import { sha256, type Sha256 } from './hash.ts';
import { isHex32 } from './hex.ts';
import { jcsBytes, type JsonValue } from './jcs.ts';
import { leafHash } from './merkle-log.ts';
import { checkpointNoteText } from './note.ts';
import { ZERO_HASH_HEX } from './round.ts';

/**
 * Checkpoints of SPEC §9. A checkpoint fixes the global tree's root at one moment; checkpoints
 * form an append-only RFC 6962 log whose leaf `seq` is `jcs(checkpoint)`. `prev` chains each one
 * to the previous checkpoint's hash (32 zero bytes for seq 0), so a single signed checkpoint also
 * commits to the whole history before it.
 */
export interface Checkpoint {
  v: 1;
  network: string;
  seq: number;
  /** Root of the global tree (SPEC §4 tree: `hex(subtreeId)` → `{root, height, round}`). */
  globalRoot: string;
  /** `digest("checkpoint", previous checkpoint)`, or 32 zero bytes for seq 0. */
  prev: string;
  /** Wall clock of the builder (ms): metadata only. */
  time: number;
}

/** The value the global tree holds for a subtree: its final head when the checkpoint was built. */
export interface GlobalEntry {
  /** State root after round `height`. */
  root: string;
  height: number;
  /** `digest("round", header)` of that final round. */
  round: string;
  /** SPEC §12: the head of a light follow (links and signatures checked, not the state) says so. */
  verify?: 'headers';
}

const FIELDS = ['globalRoot', 'network', 'prev', 'seq', 'time', 'v'];

export function parseCheckpoint(value: unknown): Checkpoint {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('invalid_request', 'checkpoint must be an object');
  const c = value as Record<string, unknown>;
  const keys = Object.keys(c).sort();
  if (keys.join() !== FIELDS.join()) fail('invalid_request', 'checkpoint must have exactly the SPEC §9 fields', { expected: FIELDS, got: keys });
  if (c.v !== 1) fail('invalid_request', 'checkpoint.v must be 1', { got: c.v });
  if (typeof c.network !== 'string' || c.network.length === 0) fail('invalid_request', 'checkpoint.network must be a non-empty string');
  for (const f of ['seq', 'time'] as const) {
    if (!Number.isSafeInteger(c[f]) || (c[f] as number) < 0) fail('invalid_request', `checkpoint.${f} must be a non-negative integer`, { got: c[f] });
  }
  for (const f of ['globalRoot', 'prev'] as const) {
    if (!isHex32(c[f])) fail('invalid_request', `checkpoint.${f} must be 64 lowercase hex characters`, { got: c[f] });
  }
  if (c.seq === 0 && c.prev !== ZERO_HASH_HEX) fail('invalid_request', 'checkpoint 0 must have prev = 32 zero bytes', { got: c.prev });
  return { v: 1, network: c.network as string, seq: c.seq as number, globalRoot: c.globalRoot as string, prev: c.prev as string, time: c.time as number };
}

/** `digest("checkpoint", c)`: what the node key signs. */
export function checkpointHash(c: Checkpoint, hash: Sha256 = sha256): Uint8Array {
  return digest('checkpoint', c, hash);
}

/** The log leaf's data: `jcs(checkpoint)`. */
export function checkpointLeafData(c: Checkpoint): Uint8Array {
  return jcsBytes(c);
}

/** RFC 6962 leaf hash of a checkpoint in the checkpoint log. */
export function checkpointLeafHash(c: Checkpoint, hash: Sha256 = sha256): Uint8Array {
  return leafHash(checkpointLeafData(c), hash);
}

/** The global tree's key for a subtree: `hex(subtreeId)`. */
export function globalKey(subtreeId: string): string {
  if (!isHex32(subtreeId)) fail('invalid_request', 'subtree id must be 64 lowercase hex characters', { got: subtreeId });
  return subtreeId;
}

export function globalValue(e: GlobalEntry): JsonValue {
  return { root: e.root, height: e.height, round: e.round, ...(e.verify === 'headers' ? { verify: 'headers' } : {}) };
}

export function parseGlobalEntry(value: unknown): GlobalEntry {
  const e = value as Record<string, unknown> | null;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) fail('invalid_request', 'global entry must be an object');
  const keys = Object.keys(e).sort();
  if (keys.join() !== 'height,root,round' && !(keys.join() === 'height,root,round,verify' && e.verify === 'headers')) {
    fail('invalid_request', 'global entry must be exactly {root, height, round} (plus "verify": "headers" for a light follow)', { got: keys });
  }
  if (!isHex32(e.root) || !isHex32(e.round)) fail('invalid_request', 'global entry root and round must be 64 hex characters');
  if (!Number.isSafeInteger(e.height) || (e.height as number) < 0) fail('invalid_request', 'global entry height must be a non-negative integer');
  return { root: e.root as string, height: e.height as number, round: e.round as string, ...(e.verify === 'headers' ? { verify: 'headers' as const } : {}) };
}

/** The extension line that ties a note to the checkpoint's global root. */
export const GLOBAL_EXTENSION_PREFIX = 'dstp-global ';

/**
 * The tlog-checkpoint note text for checkpoint `c`: origin, log size `c.seq + 1`, the log root at
 * that size, and the extension line `dstp-global <globalRoot>`.
 */
export function checkpointNote(origin: string, c: Checkpoint, logRoot: Uint8Array): string {
  return checkpointNoteText({ origin, size: c.seq + 1, rootHash: logRoot, extensions: [`${GLOBAL_EXTENSION_PREFIX}${c.globalRoot}`] });
}

