import { fail } from '../errors.ts';
import type { JsonValue } from '../jcs.ts';
import { codePointLength, exactObject } from '../strict.ts';
import { parseKeyField } from '../tx.ts';
import { callArgs, refuseSysKeys } from './common.ts';
import type { Program, ProgramResult, ProgramTx, Writes } from './types.ts';

/**
 * `kv`: a key-value store with an optional writer allow-list (SPEC §7). `set {key, value}` writes
 * `kv/<key>`, `delete {key}` removes it. Nothing is read, so calls never conflict on reads.
 */
export interface KvConfig {
  /** `'any'`, or the public keys allowed to write. */
  readonly writers: 'any' | readonly string[];
}

export const KV_PREFIX = 'kv/';
export const MAX_KV_KEY_CHARS = 256;
export const MAX_KV_WRITERS = 256;
export const KV_CALLS = ['set', 'delete'] as const;

function isKvKey(k: unknown): k is string {
  if (typeof k !== 'string' || k.length === 0) return false;
  return codePointLength(k) <= MAX_KV_KEY_CHARS;
}

function parseConfig(config: unknown): KvConfig {
  const c = exactObject(config, ['writers'], 'invalid_config', 'config');
  if (c.writers === 'any') return { writers: 'any' };
  if (!Array.isArray(c.writers) || c.writers.length === 0 || c.writers.length > MAX_KV_WRITERS) {
    fail('invalid_config', `config.writers must be "any" or 1..${MAX_KV_WRITERS} public keys`, { field: 'config.writers' });
  }
  const writers: string[] = [];
  c.writers.forEach((w, i) => {
    const key = parseKeyField(w, `config.writers[${i}]`, 'invalid_config');
    if (writers.includes(key)) fail('invalid_config', 'config.writers lists a key twice', { field: `config.writers[${i}]` });
    writers.push(key);
  });
  return { writers };
}

function checkGenesis(_config: KvConfig, entries: readonly { key: string; value: JsonValue }[]): void {
  refuseSysKeys(entries);
  for (const { key } of entries) {
    if (!key.startsWith(KV_PREFIX) || !isKvKey(key.slice(KV_PREFIX.length))) {
      fail('invalid_genesis', `kv genesis keys are "kv/" + 1..${MAX_KV_KEY_CHARS} characters`, { key });
    }
  }
}

function checkCall(_config: KvConfig, call: string, args: Record<string, JsonValue>): void {
  let a;
  if (call === 'set') a = callArgs(args, call, ['key', 'value']);
  else if (call === 'delete') a = callArgs(args, call, ['key']);
  else fail('unknown_call', `kv has no call "${call}" (its calls: ${KV_CALLS.join(', ')})`, { call, calls: [...KV_CALLS] });
  if (!isKvKey(a.key)) fail('invalid_args', `key must be 1..${MAX_KV_KEY_CHARS} characters`, { field: 'args.key' });
  // null is how the executor spells "delete"; a stored null would be indistinguishable from absence.
  if (call === 'set' && a.value === null) fail('invalid_args', 'value must not be null (use delete)', { field: 'args.value' });
}

const mayWrite = (config: KvConfig, sender: string) => config.writers === 'any' || config.writers.includes(sender);

function apply(config: KvConfig, _state: unknown, tx: ProgramTx): ProgramResult {
  if (!mayWrite(config, tx.sender)) return { ok: false, code: 'unauthorized' };
  const key = KV_PREFIX + (tx.args.key as string);
  const writes: Writes = new Map();
  writes.set(key, tx.call === 'set' ? (tx.args.value as JsonValue) : null);
  return { ok: true, writes };
}

export const kv: Program<KvConfig> = {
  name: 'kv',
  calls: KV_CALLS,
  parseConfig,
  checkGenesis,
  checkCall,
  reads: () => [],
  apply,
  // A sender not among the writers can never succeed: refused at the door, not logged.
  admission: {
    reads: () => [],
    credits: () => [],
    admit: (config, tx) => (mayWrite(config, tx.sender) ? null : 'unauthorized'),
  },
};
