import { executeRound, loadedState, planReads } from '../../src/core/execute.ts';
import { sha256 } from '../../src/core/hash.ts';
import { utf8 } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import type { Program } from '../../src/core/programs/types.ts';
import { publicKeyFromSecret, type Scheme } from '../../src/core/keys.ts';
import { signTx, txIdHex, type IdentifiedTx, type Tx, type TxEnvelope } from '../../src/core/tx.ts';

/** Test identities with secrets derived from fixed seeds: sha256("alice"), … */
export interface Party {
  scheme: Scheme;
  secret: Uint8Array;
  key: string;
}

export function party(seed: string, scheme: Scheme = 'ed25519'): Party {
  const secret = sha256(utf8(seed));
  return { scheme, secret, key: publicKeyFromSecret(scheme, secret) };
}

export const alice = party('alice');
export const bob = party('bob');
export const carol = party('carol', 'secp256k1');
export const dave = party('dave', 'bip340');
export const mallory = party('mallory');

export const NETWORK = 'dstp-test';
export const SUBTREE = 'ab'.repeat(32);

export function makeTx(from: Party, nonce: number, call: string, args: Record<string, JsonValue>, subtree = SUBTREE): Tx {
  return { v: 1, network: NETWORK, subtree, sender: from.key, nonce, call, args };
}

export function signed(from: Party, nonce: number, call: string, args: Record<string, JsonValue>, subtree = SUBTREE): TxEnvelope {
  return signTx(makeTx(from, nonce, call, args, subtree), from.scheme, from.secret);
}

export function identified(tx: Tx): IdentifiedTx {
  return { id: txIdHex(tx), tx };
}

/**
 * Executes txs against a full state held in a Map, loading only the planned reads (as the node
 * does), and returns the executor's output plus the state after applying its writes.
 */
export function runRound(program: Program, config: unknown, state: ReadonlyMap<string, JsonValue>, txs: Tx[]) {
  const ids = txs.map(identified);
  const planned = planReads(program, config, ids);
  const view = loadedState(new Map(planned.map((k) => [k, state.get(k)])));
  const out = executeRound({ program, config, txs: ids, state: view });
  const after = new Map(state);
  for (const [k, v] of out.writes) {
    if (v === null) after.delete(k);
    else after.set(k, v);
  }
  return { ...out, after, planned };
}
