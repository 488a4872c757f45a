import type { Mode } from '../core/consensus/mode.ts';
import { chooseProposer } from '../core/consensus/pos.ts';
import { loadEffectiveMode, systemCalls } from '../core/consensus/system.ts';
import type { Sha256 } from '../core/hash.ts';
import { fromHex, toHex } from '../core/hex.ts';
import type { Program } from '../core/programs/types.ts';
import { executeAndCommitRound, type RoundStep } from '../core/replay.ts';
import { parseRoundHeader, roundHash, type RoundHeader } from '../core/round.ts';
import type { SparseMerkleTree } from '../core/smt/tree.ts';
import type { ValueReader } from '../core/state-reader.ts';
import { nobleVerifier, parsePublicKey, type PublicKey, type SignatureVerifier } from '../core/keys.ts';
import { parseTxEnvelope, txIdHex, type IdentifiedTx } from '../core/tx.ts';

/**
 * The co-signer's check of one round, proposed or final: does the header follow from the log?
 * Everything is recomputed from the replica's own state with the same pure core the node uses
 * (`executeAndCommitRound` with the mode's system calls), so a refusal here means exactly that the
 * header's roots (or links) do not follow from the transactions before it.
 */
export interface ReplicaTip {
  subtree: string;
  network: string;
  height: number;
  /** State root after `height`. */
  root: string;
  /** Hash of round `height`. */
  headHash: string;
  /** Log position of the next transaction to execute. */
  nextSeq: number;
}

/** A transaction as the node serves it (GET /v1/transactions/:id). */
export interface FetchedTx {
  id: string;
  seq?: number;
  subtree?: string;
  envelope?: unknown;
}

export interface Mismatch {
  field: string;
  expected: unknown;
  got: unknown;
}

export type RoundVerdict =
  | { ok: true; header: RoundHeader; hash: string; mode: Mode; step: RoundStep; txs: IdentifiedTx[] }
  | { ok: false; reason: string; mismatches: Mismatch[] };

export interface VerifyInput {
  tip: ReplicaTip;
  creationMode: Mode;
  program: Program;
  config: unknown;
  tree: SparseMerkleTree;
  values: ValueReader;
  header: unknown;
  /** The hash the node reports for the round (checked against the header). */
  hash: string;
  /** The transactions in the order the round claims, as fetched from the node. */
  txs: FetchedTx[];
  hash256?: Sha256;
  /** Signature verifier (a native one is much faster; default: strict noble). */
  verifier?: SignatureVerifier;
  /** Public key parser (e.g. `createKeyParser()`, which memoizes the point decoding). */
  parseKey?: (s: string) => PublicKey;
  /** The subtree's host key (round 0's proposer): node calls (`sys_child`) from it are honoured. */
  host?: string;
}

function refuse(reason: string, mismatches: Mismatch[] = []): RoundVerdict {
  return { ok: false, reason, mismatches };
}

/** The mode in force for the round after the tip (its signers), from the replica's own state. */
export function modeAfter(tip: ReplicaTip, creationMode: Mode, tree: SparseMerkleTree, values: ValueReader, hash?: Sha256): Promise<Mode> {
  return loadEffectiveMode({ tree, values, root: fromHex(tip.root, 32), creationMode, height: tip.height + 1, ...(hash ? { hash } : {}) });
}

export async function verifyRound(input: VerifyInput): Promise<RoundVerdict> {
  const { tip, hash256: hash } = input;
  let header: RoundHeader;
  try {
    header = parseRoundHeader(input.header);
  } catch (e) {
    return refuse(`malformed header: ${e instanceof Error ? e.message : String(e)}`);
  }
  const h = toHex(roundHash(header, hash));
  if (h !== input.hash) return refuse('the reported hash is not digest("round", header)', [{ field: 'hash', expected: h, got: input.hash }]);

  const links: Mismatch[] = [];
  const expect = (field: string, expected: unknown, got: unknown) => {
    if (expected !== got) links.push({ field, expected, got });
  };
  expect('header.network', tip.network, header.network);
  expect('header.subtree', tip.subtree, header.subtree);
  expect('header.height', tip.height + 1, header.height);
  expect('header.prev', tip.headHash, header.prev);
  expect('header.txCount', input.txs.length, header.txCount);
  if (links.length > 0) return refuse('the header does not extend this replica', links);

  // The transactions: each the sender's signed tx with that id, of this subtree, the next in log order.
  const txs: IdentifiedTx[] = [];
  const sigs: { i: number; key: string; id: string; sig: string }[] = [];
  for (const [i, t] of input.txs.entries()) {
    let env;
    try {
      env = parseTxEnvelope(t.envelope);
    } catch (e) {
      return refuse(`transaction ${i} (${t.id}) is malformed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (txIdHex(env.tx, hash) !== t.id) return refuse(`transaction ${i}: ${t.id} is not digest("tx", tx)`);
    if (env.tx.subtree !== tip.subtree || env.tx.network !== tip.network) return refuse(`transaction ${i} (${t.id}) belongs to another subtree or network`);
    if (t.seq !== tip.nextSeq + i) {
      return refuse(`transaction ${i} (${t.id}) is not the next one of the log`, [{ field: `txs[${i}].seq`, expected: tip.nextSeq + i, got: t.seq }]);
    }
    sigs.push({ i, key: env.tx.sender, id: t.id, sig: env.sig });
    txs.push({ id: t.id, tx: env.tx });
  }
  const verifier = input.verifier ?? nobleVerifier;
  const parse = input.parseKey ?? parsePublicKey;
  // The sender signatures are checked while the round executes (the verifier may run them on other
  // threads): nothing executed is returned unless all verify, and a bad one is still the refusal
  // reported first.
  const checked = Promise.all(sigs.map((s) => verifier.verify(parse(s.key), fromHex(s.id, 32), fromHex(s.sig, 64)).catch(() => false)));
  const badSignature = async (): Promise<RoundVerdict | null> => {
    const bad = (await checked).indexOf(false);
    return bad === -1 ? null : refuse(`transaction ${sigs[bad]!.i} (${sigs[bad]!.id}): the sender's signature does not verify`);
  };

  const mode = await modeAfter(tip, input.creationMode, input.tree, input.values, hash);
  if (mode.type === 'pos') {
    const want = chooseProposer(mode.validators, fromHex(tip.headHash, 32), hash);
    if (header.proposer !== want) {
      return (await badSignature()) ?? refuse('the proposer is not the validator drawn by stake', [{ field: 'header.proposer', expected: want, got: header.proposer }]);
    }
  }

  const system = systemCalls(input.creationMode, {
    height: header.height,
    network: tip.network,
    subtree: tip.subtree,
    ...(hash ? { hash } : {}),
    ...(input.host !== undefined ? { host: input.host } : {}),
  });
  let step: RoundStep | undefined;
  let failure: unknown;
  try {
    step = await executeAndCommitRound({
      tree: input.tree,
      values: input.values,
      prevRoot: fromHex(tip.root, 32),
      program: input.program,
      config: input.config,
      txs,
      ...(hash ? { hash } : {}),
      ...(system ? { system } : {}),
      ...(input.host !== undefined ? { host: input.host } : {}),
    });
  } catch (e) {
    failure = e;
  }
  const unsigned = await badSignature();
  if (unsigned) return unsigned;
  if (!step) return refuse(`the transactions cannot be executed on this replica: ${failure instanceof Error ? failure.message : String(failure)}`);
  const roots: Mismatch[] = [];
  const cmp = (field: 'stateRoot' | 'txRoot' | 'receiptsRoot', mine: Uint8Array) => {
    if (toHex(mine) !== header[field]) roots.push({ field: `header.${field}`, expected: toHex(mine), got: header[field] });
  };
  cmp('stateRoot', step.stateRoot);
  cmp('txRoot', step.txRoot);
  cmp('receiptsRoot', step.receiptsRoot);
  if (roots.length > 0) return refuse('the header\'s roots do not follow from the log', roots);
  return { ok: true, header, hash: h, mode, step, txs };
}
