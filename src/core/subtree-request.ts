import { parseMode, type Mode } from './consensus/mode.ts';
import type { SignerSig } from './consensus/signing-rules.ts';
import { DstpError, fail } from './errors.ts';
import type { Sha256 } from './hash.ts';
import { fromHex, isHex32 } from './hex.ts';
import { jcs, type JsonValue } from './jcs.ts';
import { MAX_GENESIS_ENTRIES, MAX_STATE_KEY_CHARS } from './limits.ts';
import { assertObjectName, objectId } from './object-id.ts';
import { programOf, type ProgramRegistry } from './programs/registry.ts';
import type { Program } from './programs/types.ts';
import { codePointLength, exactObject, NETWORK_RE } from './strict.ts';
import { parseKeyField, parseSigHex } from './tx.ts';

/** A genesis state entry; `value` is any JSON value except null (null spells "absent"). */
export interface GenesisEntry {
  key: string;
  value: JsonValue;
}

/**
 * The signed `subtree` object of a creation request (SPEC §5). The signatures cover
 * `digest("subtree", subtree)` of exactly these fields; `config` is kept as sent (validated by the
 * program) so the digest is over the bytes the signers saw.
 */
export interface SubtreeSpec {
  v: 1;
  network: string;
  parent: string;
  owner: string;
  name: string;
  program: string;
  config: JsonValue;
  mode: Mode;
  genesis: GenesisEntry[];
}

export interface SubtreeRequest {
  subtree: SubtreeSpec;
  sigs: SignerSig[];
}

/** More signatures than any rule could use is a malformed request (owner + the largest key set). */
export const MAX_CREATION_SIGS = 1 + 256;

const SPEC_FIELDS = ['v', 'network', 'parent', 'owner', 'name', 'program', 'config', 'mode', 'genesis'] as const;

/** A program name as a subtree may give it: `kv`, `token`, or a user program's `js:<id>` (SPEC §7.1). */
const PROGRAM_NAME_RE = /^[a-z][a-z0-9_-]{0,31}(:[0-9a-f]{64})?$/;

/**
 * Strict validation of a creation request body. Codes: `invalid_subtree` for structure,
 * `invalid_name`, `invalid_key`, `unknown_program`, `invalid_config`, `invalid_mode`,
 * `invalid_genesis` from the parts. With `programs`, the program must be in it and accept the
 * config and genesis; with `null` (a client checking ids and signatures without any program's
 * code) only the name's shape is checked. Signatures are only checked for shape here; whether
 * they verify and meet the mode's rule is `checkCreationSignatures`.
 */
export function parseSubtreeRequest(body: unknown, programs: ProgramRegistry | null): SubtreeRequest {
  const req = exactObject(body, ['subtree', 'sigs'], 'invalid_subtree', 'body');
  return { subtree: parseSubtreeSpec(req.subtree, programs), sigs: parseSigs(req.sigs) };
}

export function parseSubtreeSpec(value: unknown, programs: ProgramRegistry | null): SubtreeSpec {
  const s = exactObject(value, SPEC_FIELDS, 'invalid_subtree', 'subtree');
  if (s.v !== 1) fail('invalid_subtree', 'subtree.v must be 1', { field: 'subtree.v' });
  if (typeof s.network !== 'string' || !NETWORK_RE.test(s.network)) {
    fail('invalid_subtree', 'subtree.network must be 1-64 characters of [a-z0-9._-]', { field: 'subtree.network' });
  }
  if (!isHex32(s.parent)) fail('invalid_subtree', 'subtree.parent must be 64 lowercase hex characters', { field: 'subtree.parent' });
  const owner = parseKeyField(s.owner, 'subtree.owner');
  assertObjectName(s.name);
  const name = s.name;
  if (typeof s.program !== 'string' || (programs === null ? !PROGRAM_NAME_RE.test(s.program) : programs.get(s.program) === undefined)) {
    fail('unknown_program', `unknown program "${String(s.program)}"`, { field: 'subtree.program' });
  }
  const program = programs === null ? undefined : programOf(programs, s.program);
  const config = program?.parseConfig(s.config);
  const mode = parseMode(s.mode);
  const genesis = parseGenesis(s.genesis);
  program?.checkGenesis(config, genesis);
  return {
    v: 1,
    network: s.network,
    parent: s.parent,
    owner,
    name,
    program: s.program,
    config: s.config as JsonValue,
    mode,
    genesis,
  };
}

function parseGenesis(value: unknown): GenesisEntry[] {
  if (!Array.isArray(value) || value.length > MAX_GENESIS_ENTRIES) {
    fail('invalid_genesis', `subtree.genesis must be an array of at most ${MAX_GENESIS_ENTRIES} entries`, { field: 'subtree.genesis' });
  }
  const seen = new Set<string>();
  return value.map((e, i) => {
    const field = `subtree.genesis[${i}]`;
    const o = exactObject(e, ['key', 'value'], 'invalid_genesis', field);
    if (typeof o.key !== 'string' || o.key.length === 0 || codePointLength(o.key) > MAX_STATE_KEY_CHARS) {
      fail('invalid_genesis', `${field}.key must be 1..${MAX_STATE_KEY_CHARS} characters`, { field: `${field}.key` });
    }
    if (seen.has(o.key)) fail('invalid_genesis', `${field}.key repeats an earlier key`, { field: `${field}.key`, key: o.key });
    seen.add(o.key);
    if (o.value === null) fail('invalid_genesis', `${field}.value must not be null (leave the key out)`, { field: `${field}.value` });
    try {
      jcs(o.value);
    } catch (err) {
      const details = err instanceof DstpError ? err.details : undefined;
      fail('invalid_genesis', `${field}.value is not representable as JSON`, { field: `${field}.value`, ...details });
    }
    return { key: o.key, value: o.value as JsonValue };
  });
}

function parseSigs(value: unknown): SignerSig[] {
  if (!Array.isArray(value) || value.length > MAX_CREATION_SIGS) {
    fail('invalid_subtree', `sigs must be an array of at most ${MAX_CREATION_SIGS} signatures`, { field: 'sigs' });
  }
  return value.map((e, i) => {
    const o = exactObject(e, ['signer', 'sig'], 'invalid_subtree', `sigs[${i}]`);
    const signer = parseKeyField(o.signer, `sigs[${i}].signer`);
    const sig = parseSigHex(o.sig, `sigs[${i}].sig`, 'invalid_subtree');
    return { signer, sig };
  });
}

/** The subtree's id: `objectId(parent, owner, name)` (SPEC §3). */
export function subtreeId(subtree: Pick<SubtreeSpec, 'parent' | 'owner' | 'name'>, hash?: Sha256): Uint8Array {
  return objectId(fromHex(subtree.parent, 32, 'parent'), subtree.owner, subtree.name, hash);
}

/** The program a subtree runs (from `programs`) and its parsed config. */
export function subtreeProgram(subtree: Pick<SubtreeSpec, 'program' | 'config'>, programs: ProgramRegistry): { program: Program; config: unknown } {
  const program = programOf(programs, subtree.program);
  return { program, config: program.parseConfig(subtree.config) };
}
