import { sha256, type Sha256 } from './hash.ts';
import { digest } from './digest.ts';
import { fail } from './errors.ts';
import { fromHex, isHex32, toHex } from './hex.ts';
import { merkleRoot } from './merkle-log.ts';
import { exactObject, isSafeInt, NETWORK_RE } from './strict.ts';
import { parseKeyField } from './tx.ts';

/** A round header, exactly the fields of SPEC §8. Hashes are lowercase hex. */
export interface RoundHeader {
  v: 1;
  network: string;
  subtree: string;
  height: number;
  /** Hash of the previous round's header; 32 zero bytes for the genesis round. */
  prev: string;
  stateRoot: string;
  txRoot: string;
  receiptsRoot: string;
  txCount: number;
  proposer: string;
  /** Wall-clock ms, metadata only: chosen by the proposer, never an input to execution. */
  time: number;
}

const HEADER_FIELDS = ['v', 'network', 'subtree', 'height', 'prev', 'stateRoot', 'txRoot', 'receiptsRoot', 'txCount', 'proposer', 'time'] as const;

/** `H("")`: the RFC 6962 hash of an empty list, the tx and receipts root of a round without transactions. */
export const EMPTY_LIST_ROOT: Uint8Array = sha256(new Uint8Array(0));

export const ZERO_HASH_HEX = '0'.repeat(64);

/** Round hash = `digest("round", header)`; round signatures sign these 32 bytes. */
export function roundHash(header: RoundHeader, hash?: Sha256): Uint8Array {
  return digest('round', header, hash);
}

/** RFC 6962 tree hash over the transaction ids (32 bytes each) in execution order. */
export function txRoot(ids: readonly string[], hash?: Sha256): Uint8Array {
  return merkleRoot(ids.map((id) => fromHex(id, 32, 'tx id')), hash);
}

/** Round 0: the genesis state, no transactions, `prev` = 32 zero bytes (SPEC §8). */
export function genesisHeader(g: { network: string; subtree: string; stateRoot: string; proposer: string; time: number }): RoundHeader {
  const empty = toHex(EMPTY_LIST_ROOT);
  return {
    v: 1,
    network: g.network,
    subtree: g.subtree,
    height: 0,
    prev: ZERO_HASH_HEX,
    stateRoot: g.stateRoot,
    txRoot: empty,
    receiptsRoot: empty,
    txCount: 0,
    proposer: g.proposer,
    time: g.time,
  };
}

/** The header that follows `prev`: same network and subtree, height + 1, `prev` = its hash. */
export function nextHeader(
  prev: RoundHeader,
  r: { stateRoot: string; txRoot: string; receiptsRoot: string; txCount: number; proposer: string; time: number },
  hash?: Sha256,
): RoundHeader {
  return {
    v: 1,
    network: prev.network,
    subtree: prev.subtree,
    height: prev.height + 1,
    prev: toHex(roundHash(prev, hash)),
    stateRoot: r.stateRoot,
    txRoot: r.txRoot,
    receiptsRoot: r.receiptsRoot,
    txCount: r.txCount,
    proposer: r.proposer,
    time: r.time,
  };
}

/** Strict parse of a header received from elsewhere (a proposal, a replay input) → 'invalid_round'. */
export function parseRoundHeader(value: unknown): RoundHeader {
  const h = exactObject(value, HEADER_FIELDS, 'invalid_round', 'header');
  if (h.v !== 1) fail('invalid_round', 'header.v must be 1', { field: 'header.v' });
  if (typeof h.network !== 'string' || !NETWORK_RE.test(h.network)) fail('invalid_round', 'header.network is malformed', { field: 'header.network' });
  for (const f of ['subtree', 'prev', 'stateRoot', 'txRoot', 'receiptsRoot'] as const) {
    if (!isHex32(h[f])) fail('invalid_round', `header.${f} must be 64 lowercase hex characters`, { field: `header.${f}` });
  }
  for (const f of ['height', 'txCount', 'time'] as const) {
    if (!isSafeInt(h[f], 0)) fail('invalid_round', `header.${f} must be an integer in 0..2^53-1`, { field: `header.${f}` });
  }
  const proposer = parseKeyField(h.proposer, 'header.proposer', 'invalid_round');
  return {
    v: 1,
    network: h.network as string,
    subtree: h.subtree as string,
    height: h.height as number,
    prev: h.prev as string,
    stateRoot: h.stateRoot as string,
    txRoot: h.txRoot as string,
    receiptsRoot: h.receiptsRoot as string,
    txCount: h.txCount as number,
    proposer,
    time: h.time as number,
  };
}
