import type { Mode } from '../core/consensus/mode.ts';
import { isRoundFinal } from '../core/consensus/signing-rules.ts';
import { sha256 } from '../core/hash.ts';
import { fromHex, isHex32, toHex, utf8 } from '../core/hex.ts';
import { jcsBytes, type JsonValue } from '../core/jcs.ts';
import { parsePublicKey, verifyDigest } from '../core/keys.ts';
import { allAttestations, readDetached } from '../core/ots.ts';
import { receiptsRoot } from '../core/receipt.ts';
import { parseRoundHeader, roundHash, txRoot, type RoundHeader } from '../core/round.ts';
import type { Proof } from '../core/smt/types.ts';
import { txIdHex, verifyTxSignature } from '../core/tx.ts';
import type { Receipt, RoundResponse, TransactionStatus } from './types.ts';

/**
 * Checks for pages that SHOW what a node says, one field at a time: each returns what it
 * recomputed next to what the node reported, so a viewer can mark every field verified or not.
 * Verdicts on a value (proof → round → signatures → subtree → chain) stay in verify.ts and
 * verify-chain.ts; these never replace them.
 */

/** One level of a state proof as drawn from the leaf up to the root (SPEC §4's fold). */
export interface ProofStep {
  /** Depth of the parent node this step computes (the root is depth 0). */
  depth: number;
  /** Bit `depth` of path(key): 1 = the path's node is the right child, the sibling the left. */
  bit: 0 | 1;
  /** The path's node at depth + 1 (the leaf hash, EMPTY, or the previous step's `hash`). */
  node: string;
  sibling: string;
  /** inner(left, right) at `depth`. */
  hash: string;
}

export interface ProofWalk {
  path: string;
  /** H(0x00 || path || valueHash) of the proof's leaf, or 32 zero bytes for an empty slot. */
  leafHash: string;
  /** The leaf sits at depth D = siblings.length. */
  depth: number;
  /** Deepest first: steps[0] combines the leaf with siblings[0]. */
  steps: ProofStep[];
  /** What the fold reaches; the proof holds iff it equals `proof.root` (and the leaf is right). */
  computedRoot: string;
}

/**
 * The fold of a proof with every intermediate hash, for drawing it. Throws TypeError on a
 * malformed proof; whether it proves the key is `verifyProof`'s call (same SPEC §4 rules).
 */
export function walkProof(proof: Proof, key: string): ProofWalk {
  if (proof === null || typeof proof !== 'object' || !Array.isArray(proof.siblings)) throw new TypeError('not a proof object');
  if (proof.siblings.length > 256 || !proof.siblings.every(isHex32)) throw new TypeError('siblings must be at most 256 hashes of 64 hex characters');
  const path = sha256(utf8(key));
  let h: Uint8Array;
  if (proof.leaf === null) h = new Uint8Array(32);
  else {
    if (!isHex32(proof.leaf?.path) || !isHex32(proof.leaf?.valueHash)) throw new TypeError('leaf.path and leaf.valueHash must be 64 hex characters');
    h = sha256(concat([0x00], fromHex(proof.leaf.path), fromHex(proof.leaf.valueHash)));
  }
  const leafHash = toHex(h);
  const D = proof.siblings.length;
  const steps: ProofStep[] = [];
  for (let j = 0; j < D; j++) {
    const depth = D - 1 - j;
    const bit = ((path[depth >> 3]! >> (7 - (depth & 7))) & 1) as 0 | 1;
    const sibling = fromHex(proof.siblings[j]!);
    const node = toHex(h);
    h = sha256(bit ? concat([0x01], sibling, h) : concat([0x01], h, sibling));
    steps.push({ depth, bit, node, sibling: proof.siblings[j]!, hash: toHex(h) });
  }
  return { path: toHex(path), leafHash, depth: D, steps, computedRoot: toHex(h) };
}

function concat(head: number[], ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(head.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

export interface RoundInspection {
  header: RoundHeader;
  /** digest("round", header), recomputed. */
  hash: string;
  /** The hash the node reported, when it did, equals the recomputed one. */
  hashMatches: boolean | undefined;
  /** Each signature checked over the recomputed hash. */
  signatures: { signer: string; sig: string; valid: boolean }[];
  /** The signatures meet `mode`'s finality rule (when a mode is given). */
  final: boolean | undefined;
  /** The RFC 6962 root of the listed tx ids equals header.txRoot (when the node listed them). */
  txRootMatches: boolean | undefined;
}

/** Recomputes a round's hash and checks each signature (and finality under `mode`) in place. */
export function inspectRound(round: RoundResponse, mode?: Mode): RoundInspection {
  const header = parseRoundHeader(round?.header);
  const hash = roundHash(header);
  const hashHex = toHex(hash);
  const sigs = Array.isArray(round.signatures) ? round.signatures : [];
  const signatures = sigs.map((s) => ({ signer: String(s?.signer), sig: String(s?.sig), valid: verifiesQuietly(s?.signer, hash, s?.sig) }));
  const ids = round.txs;
  let txRootMatches: boolean | undefined;
  if (Array.isArray(ids)) {
    try {
      txRootMatches = ids.length === header.txCount && toHex(txRoot(ids)) === header.txRoot;
    } catch {
      txRootMatches = false;
    }
  }
  return {
    header,
    hash: hashHex,
    hashMatches: round.hash === undefined ? undefined : round.hash === hashHex,
    signatures,
    final: mode ? isRoundFinal(mode, hash, signatures) : undefined,
    txRootMatches,
  };
}

/**
 * Recomputes header.receiptsRoot from the receipts of all of a round's transactions, ordered by
 * their `index` (each from `GET /v1/transactions/:id`). True iff it matches.
 */
export function receiptsMatchRoot(receipts: readonly Receipt[], header: Pick<RoundHeader, 'receiptsRoot' | 'txCount'>): boolean {
  if (receipts.length !== header.txCount) return false;
  const ordered = [...receipts].sort((a, b) => a.index - b.index);
  if (ordered.some((r, i) => r.index !== i)) return false;
  try {
    return toHex(receiptsRoot(ordered as Parameters<typeof receiptsRoot>[0])) === header.receiptsRoot;
  } catch {
    return false;
  }
}

/** A transaction as a node reports it: its id recomputed from `envelope.tx`, the sender's signature checked. */
export function inspectTransaction(status: TransactionStatus): { id: string | undefined; idMatches: boolean; senderSignatureValid: boolean } {
  const env = status.envelope;
  if (!env || typeof env !== 'object') return { id: undefined, idMatches: false, senderSignatureValid: false };
  let id: string | undefined;
  let valid = false;
  try {
    id = txIdHex(env.tx);
    valid = verifyTxSignature(env);
  } catch {
    valid = false;
  }
  return { id, idMatches: id === status.id, senderSignatureValid: valid };
}

export interface OtsInspection {
  /** The digest the .ots file timestamps (for dstp: a checkpoint log root). */
  fileDigest: string;
  attestations: ({ type: 'pending'; uri: string } | { type: 'bitcoin'; height: number; msg: string } | { type: 'unknown' })[];
}

/** Parses a detached OpenTimestamps file offline; throws on a malformed one. */
export function inspectOts(bytes: Uint8Array): OtsInspection {
  const { fileDigest, timestamp } = readDetached(bytes);
  return {
    fileDigest: toHex(fileDigest),
    attestations: allAttestations(timestamp).map(({ msg, attestation: a }) =>
      a.type === 'pending' ? { type: 'pending', uri: a.uri } : a.type === 'bitcoin' ? { type: 'bitcoin', height: a.height, msg: toHex(msg) } : { type: 'unknown' },
    ),
  };
}

/** `H(jcs(value))` in hex: what a proof's leaf commits to. */
export function valueHashOf(value: JsonValue): string {
  return toHex(sha256(jcsBytes(value)));
}

function verifiesQuietly(signer: unknown, digest32: Uint8Array, sig: unknown): boolean {
  if (typeof signer !== 'string' || typeof sig !== 'string') return false;
  try {
    return verifyDigest(parsePublicKey(signer), digest32, fromHex(sig, 64));
  } catch {
    return false;
  }
}
