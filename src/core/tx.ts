import { digest } from './digest.ts';
import { DstpError, fail, type CoreErrorCode } from './errors.ts';
import type { Sha256 } from './hash.ts';
import { fromHex, isHex32, toHex, utf8 } from './hex.ts';
import { jcs, type JsonValue } from './jcs.ts';
import { parsePublicKey, signDigest, verifyDigest, type Scheme } from './keys.ts';
import { MAX_ARGS_BYTES } from './limits.ts';
import { exactObject, isPlainObject, isSafeInt, NETWORK_RE } from './strict.ts';

/** A transaction (SPEC §6). Its id is `digest("tx", tx)`; the signature covers the id, not itself. */
export interface Tx {
  v: 1;
  network: string;
  /** Target subtree id, 64 lowercase hex characters. */
  subtree: string;
  /** `scheme:hex` public key; also the account address. */
  sender: string;
  /** 0, 1, 2, … per (subtree, sender), no gaps. */
  nonce: number;
  call: string;
  args: Record<string, JsonValue>;
}

export interface TxEnvelope {
  tx: Tx;
  /** Hex signature by `tx.sender` over `txId(tx)`. */
  sig: string;
}

/** A transaction as the executor sees it: the id travels with it so receipts can name it. */
export interface IdentifiedTx {
  /** `toHex(txId(tx))` */
  id: string;
  tx: Tx;
}

export const CALL_RE = /^[a-z][a-z0-9_]{0,31}$/;
const TX_FIELDS = ['v', 'network', 'subtree', 'sender', 'nonce', 'call', 'args'] as const;
const SIG_RE = /^[0-9a-f]{128}$/; // every scheme of SPEC §2 signs with 64 bytes

/**
 * Strict structural validation of a `{tx, sig}` body. Unknown fields are refused (the signed bytes
 * are `jcs(tx)`, so an ignored field would still change the id — better to say no). Does not verify
 * the signature: see `verifyTxSignature`.
 */
export function parseTxEnvelope(body: unknown): TxEnvelope {
  const env = exactObject(body, ['tx', 'sig'], 'invalid_tx', 'body');
  return { tx: parseTx(env.tx), sig: parseSigHex(env.sig, 'sig') };
}

export function parseTx(value: unknown): Tx {
  const t = exactObject(value, TX_FIELDS, 'invalid_tx', 'tx');
  if (t.v !== 1) fail('invalid_tx', 'tx.v must be 1', { field: 'tx.v' });
  if (typeof t.network !== 'string' || !NETWORK_RE.test(t.network)) {
    fail('invalid_tx', 'tx.network must be 1-64 characters of [a-z0-9._-]', { field: 'tx.network' });
  }
  if (!isHex32(t.subtree)) fail('invalid_tx', 'tx.subtree must be 64 lowercase hex characters', { field: 'tx.subtree' });
  const sender = parseKeyField(t.sender, 'tx.sender');
  if (!isSafeInt(t.nonce, 0)) fail('invalid_tx', 'tx.nonce must be an integer in 0..2^53-1', { field: 'tx.nonce' });
  if (typeof t.call !== 'string' || !CALL_RE.test(t.call)) {
    fail('invalid_tx', 'tx.call must match [a-z][a-z0-9_]{0,31}', { field: 'tx.call' });
  }
  const args = parseArgs(t.args);
  return { v: 1, network: t.network, subtree: t.subtree, sender, nonce: t.nonce, call: t.call, args };
}

/** `args` is a plain JSON object of at most MAX_ARGS_BYTES in canonical form. */
export function parseArgs(value: unknown): Record<string, JsonValue> {
  if (!isPlainObject(value)) fail('invalid_args', 'tx.args must be a JSON object', { field: 'tx.args' });
  let canonical: string;
  try {
    canonical = jcs(value);
  } catch (e) {
    const details = e instanceof DstpError ? e.details : undefined;
    fail('invalid_args', 'tx.args is not representable as JSON', { field: 'tx.args', ...details });
  }
  const size = utf8(canonical).length;
  if (size > MAX_ARGS_BYTES) {
    fail('value_too_large', `tx.args is ${size} bytes canonical, limit ${MAX_ARGS_BYTES}`, {
      field: 'tx.args',
      limit: MAX_ARGS_BYTES,
      got: size,
    });
  }
  return value as Record<string, JsonValue>;
}

/**
 * A public key field must be a valid key written in its one canonical form, because the string
 * itself is the account address: two spellings of one key would be two accounts. Errors keep the
 * key's own code (`invalid_key`, `unsupported_scheme`) unless `code` names the caller's.
 */
export function parseKeyField(value: unknown, field: string, code?: CoreErrorCode): string {
  try {
    if (typeof value !== 'string') fail('invalid_key', `${field} must be a public key string`, { field });
    if (VALID_KEYS.has(value)) return value;
    parsePublicKey(value);
    remember(value);
    return value;
  } catch (e) {
    if (e instanceof DstpError) throw new DstpError(code ?? e.code, `${field}: ${e.message}`, { ...e.details, field });
    throw e;
  }
}

/**
 * Key strings already proven valid. Validity is a pure function of the string, so memoizing it
 * changes no outcome; it spares the point decompression (tens of µs) that every transfer would
 * otherwise pay twice per round (planning and execution) for the same few thousand accounts.
 */
const VALID_KEYS = new Set<string>();
const MAX_REMEMBERED_KEYS = 65_536;

function remember(key: string): void {
  if (VALID_KEYS.size >= MAX_REMEMBERED_KEYS) VALID_KEYS.clear();
  VALID_KEYS.add(key);
}

export function parseSigHex(value: unknown, field: string, code: CoreErrorCode = 'invalid_tx'): string {
  if (typeof value !== 'string' || !SIG_RE.test(value)) {
    fail(code, `${field} must be 64 bytes of lowercase hex`, { field });
  }
  return value;
}

/** `id = digest("tx", tx)` */
export function txId(tx: Tx, hash?: Sha256): Uint8Array {
  return digest('tx', tx, hash);
}

export function txIdHex(tx: Tx, hash?: Sha256): string {
  return toHex(txId(tx, hash));
}

/** Synchronous strict check that `sig` is the sender's signature over the tx id. */
export function verifyTxSignature(env: TxEnvelope, hash?: Sha256): boolean {
  return verifyDigest(parsePublicKey(env.tx.sender), txId(env.tx, hash), fromHex(env.sig, 64, 'sig'));
}

/** Signs a transaction (clients, tests, the CLI). */
export function signTx(tx: Tx, scheme: Scheme, secret: Uint8Array, hash?: Sha256): TxEnvelope {
  return { tx, sig: toHex(signDigest(scheme, secret, txId(tx, hash))) };
}
