import { fail } from './errors.ts';
import { EMPTY_HASH, type Hash32, type Sha256 } from './hash.ts';
import { toHex } from './hex.ts';
import type { JsonValue } from './jcs.ts';
import { systemCalls } from './consensus/system.ts';
import { executeRound, loadedState, planReads, type SystemCalls } from './execute.ts';
import { NATIVE_PROGRAMS } from './programs/native.ts';
import type { ProgramRegistry } from './programs/registry.ts';
import type { Program } from './programs/types.ts';
import { receiptsRoot, type Receipt } from './receipt.ts';
import { genesisHeader, roundHash, txRoot, type RoundHeader } from './round.ts';
import type { NewNodes, NodeStore } from './smt/node-store.ts';
import { SparseMerkleTree, type StoredValue } from './smt/tree.ts';
import { MemoryValueStore, readState, type ValueReader, type ValueStore } from './state-reader.ts';
import { subtreeId, subtreeProgram, type GenesisEntry, type SubtreeSpec } from './subtree-request.ts';
import { txIdHex, type IdentifiedTx } from './tx.ts';

/**
 * One round's step, shared by the leader's round runner, a co-signer that re-executes a proposal
 * and `replay`: load the planned reads at `prevRoot`, execute, apply the writes to the tree. It
 * persists nothing: the caller stores `nodes` and `values` (in one DB transaction, or in memory).
 */
export interface RoundStepInput {
  tree: SparseMerkleTree;
  values: ValueReader;
  prevRoot: Hash32;
  program: Program;
  config: unknown;
  txs: readonly IdentifiedTx[];
  hash?: Sha256;
  /** The mode's system calls for this round (`systemCalls(mode, {height, …})`); none for PoA. */
  system?: SystemCalls;
  /** The subtree's host key (round 0's proposer), the only sender of node calls (`sys_child`). */
  host?: string;
  /**
   * Runs planning and execution elsewhere (a thread of the platform layer) with the same
   * results as `planReads` and `executeRound` over this round's program, config, mode and host;
   * absent: here.
   */
  offload?: RoundOffload;
}

/** Where a round's program runs when not in the caller's thread (same answers, same errors). */
export interface RoundOffload {
  planReads(txs: readonly IdentifiedTx[]): Promise<string[]>;
  execute(txs: readonly IdentifiedTx[], values: ReadonlyMap<string, JsonValue | undefined>): Promise<{ writes: Map<string, JsonValue | null>; receipts: Receipt[] }>;
}

export interface RoundStep {
  stateRoot: Hash32;
  txRoot: Hash32;
  receiptsRoot: Hash32;
  receipts: Receipt[];
  writes: Map<string, JsonValue | null>;
  /** New tree nodes and value blobs to persist before the next round reads this root. */
  nodes: NewNodes;
  values: StoredValue[];
}

export async function executeAndCommitRound(input: RoundStepInput): Promise<RoundStep> {
  const { tree, values, prevRoot, program, config, txs, hash, system, host, offload } = input;
  const keys = offload ? await offload.planReads(txs) : planReads(program, config, txs, system, host);
  const loaded = await readState(tree, values, prevRoot, keys, hash);
  const { writes, receipts } = offload
    ? await offload.execute(txs, loaded)
    : executeRound({
        program,
        config,
        txs,
        state: loadedState(loaded),
        ...(system ? { system } : {}),
        ...(host !== undefined ? { host } : {}),
      });
  const applied = await tree.apply(prevRoot, Array.from(writes, ([key, value]) => ({ key, value })));
  return {
    stateRoot: applied.root,
    txRoot: txRoot(txs.map((t) => t.id), hash),
    receiptsRoot: receiptsRoot(receipts, hash),
    receipts,
    writes,
    nodes: applied,
    values: applied.values,
  };
}

/** Round 0's state: the genesis entries applied to the empty tree. */
export async function buildGenesis(tree: SparseMerkleTree, genesis: readonly GenesisEntry[]) {
  return tree.apply(EMPTY_HASH, genesis.map(({ key, value }) => ({ key, value })));
}

export interface ReplayRoundInput {
  /** The header a node published for this round, to compare against (optional). */
  header?: RoundHeader;
  txs: readonly IdentifiedTx[];
}

export interface ReplayInput {
  /** The network the transactions must name; defaults to the subtree's. */
  network?: string;
  /** The validated `subtree` of the creation request (`parseSubtreeRequest(body).subtree`). */
  subtree: SubtreeSpec;
  /** The published genesis header, to compare and to link round 1's `prev` (optional). */
  genesis?: RoundHeader;
  /** The host key that may send node calls (`sys_child`); defaults to `genesis.proposer`. */
  host?: string;
  /** Rounds 1, 2, … in order. */
  rounds: readonly ReplayRoundInput[];
  /** Where the replayed tree's nodes go. */
  store: NodeStore;
  /** Where the subtree's program is found (default: the native programs). */
  programs?: ProgramRegistry;
  values?: ValueStore;
  hash?: Sha256;
}

export interface ReplayedRound {
  height: number;
  stateRoot: string;
  txRoot: string;
  receiptsRoot: string;
  txCount: number;
  receipts: Receipt[];
}

export interface Mismatch {
  height: number;
  field: keyof RoundHeader;
  /** What replay computed. */
  expected: string | number;
  /** What the given header says. */
  got: unknown;
}

export interface ReplayResult {
  ok: boolean;
  /** Index 0 is the genesis round. */
  rounds: ReplayedRound[];
  mismatches: Mismatch[];
}

/**
 * Re-executes a subtree from genesis (SPEC §8: every round's roots must come out exactly). Input
 * that cannot be part of the subtree's log (wrong network or subtree, an id that is not the tx's
 * digest, a nonce gap) throws `invalid_round`/`nonce_mismatch`; headers that disagree with the
 * computed roots are reported, all of them, rather than thrown, so an auditor sees every fault.
 */
export async function replay(input: ReplayInput): Promise<ReplayResult> {
  const { subtree: spec, hash } = input;
  const network = input.network ?? spec.network;
  if (spec.network !== network) fail('invalid_round', 'the subtree belongs to another network', { expected: network, got: spec.network });
  const subtree = toHex(subtreeId(spec, hash));
  const { program, config } = subtreeProgram(spec, input.programs ?? NATIVE_PROGRAMS);
  const store = input.store;
  const values = input.values ?? new MemoryValueStore();
  const tree = new SparseMerkleTree(store, hash ? { hash } : {});

  const mismatches: Mismatch[] = [];
  const compare = (computed: Partial<RoundHeader> & { height: number }, header: RoundHeader | undefined): void => {
    if (!header) return;
    for (const [field, expected] of Object.entries(computed) as [keyof RoundHeader, string | number][]) {
      if (header[field] !== expected) mismatches.push({ height: computed.height, field, expected, got: header[field] });
    }
  };

  const g = await buildGenesis(tree, spec.genesis);
  await store.putMany(g);
  await values.putValues(g.values);
  const empty = toHex(txRoot([], hash));
  const rounds: ReplayedRound[] = [{ height: 0, stateRoot: toHex(g.root), txRoot: empty, receiptsRoot: empty, txCount: 0, receipts: [] }];
  if (input.genesis) {
    const expected = genesisHeader({ network, subtree, stateRoot: toHex(g.root), proposer: input.genesis.proposer, time: input.genesis.time });
    compare(withoutMetadata(expected), input.genesis);
  }

  let root = g.root;
  let prevHeader = input.genesis;
  const host = input.host ?? input.genesis?.proposer;
  for (const [i, r] of input.rounds.entries()) {
    const height = i + 1;
    r.txs.forEach(({ id, tx }, j) => {
      const at = { height, index: j, tx: id };
      if (tx.network !== network) fail('invalid_round', 'transaction names another network', { ...at, field: 'network' });
      if (tx.subtree !== subtree) fail('invalid_round', 'transaction names another subtree', { ...at, field: 'subtree' });
      if (txIdHex(tx, hash) !== id) fail('invalid_round', 'transaction id is not digest("tx", tx)', { ...at, field: 'id' });
    });
    const system = systemCalls(spec.mode, { height, network, subtree, ...(hash ? { hash } : {}), ...(host !== undefined ? { host } : {}) });
    const step = await executeAndCommitRound({
      tree,
      values,
      prevRoot: root,
      program,
      config,
      txs: r.txs,
      ...(hash ? { hash } : {}),
      ...(system ? { system } : {}),
      ...(host !== undefined ? { host } : {}),
    });
    await store.putMany(step.nodes);
    await values.putValues(step.values);
    root = step.stateRoot;
    const done: ReplayedRound = {
      height,
      stateRoot: toHex(step.stateRoot),
      txRoot: toHex(step.txRoot),
      receiptsRoot: toHex(step.receiptsRoot),
      txCount: r.txs.length,
      receipts: step.receipts,
    };
    rounds.push(done);
    const { receipts: _r, ...computed } = done;
    compare(
      { ...computed, v: 1, network, subtree, ...(prevHeader ? { prev: toHex(roundHash(prevHeader, hash)) } : {}) },
      r.header,
    );
    prevHeader = r.header;
  }
  return { ok: mismatches.length === 0, rounds, mismatches };
}

/** The header fields replay can recompute (proposer and time are the proposer's choice). */
function withoutMetadata(h: RoundHeader): Partial<RoundHeader> & { height: number } {
  const { proposer: _p, time: _t, ...rest } = h;
  return rest;
}
