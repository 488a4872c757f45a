/**
 * The public API of the pure core: everything the node's services, the client SDK and the CLI
 * need, from one import. Nothing here does I/O; runtime-specific speed-ups are injected.
 */
export * from './errors.ts';
export * from './hex.ts';
export * from './jcs.ts';
export * from './hash.ts';
export * from './digest.ts';
export * from './keys.ts';
export * from './object-id.ts';
/** RFC 6962 log hashing and proofs (names like `leafHash` would clash with the state tree's). */
export * as merkleLog from './merkle-log.ts';
export * from './limits.ts';
export * from './amount.ts';

// State tree (SPEC §4)
export { SparseMerkleTree, type TreeWrite, type HashedWrite, type StoredValue, type ApplyResult } from './smt/tree.ts';
export type { NodeReader, NodeStore, StoredNode } from './smt/node-store.ts';
export * from './smt/types.ts';
export * from './smt/verify.ts';
export * from './smt/ics23.ts';
export * from './state-reader.ts';

// Transactions, programs, subtrees, consensus (SPEC §5-§7)
export * from './tx.ts';
export type { Program, ProgramTx, ProgramResult, StateView, Writes } from './programs/types.ts';
export { programs, getProgram, isProgramName } from './programs/index.ts';
export { SYS_PREFIX, isSysKey, nonceKey } from './programs/common.ts';
export { kv, KV_PREFIX, type KvConfig } from './programs/kv.ts';
export { token, SUPPLY_KEY, BALANCE_PREFIX, balanceKey, type TokenConfig } from './programs/token.ts';
export * from './subtree-request.ts';
export * from './consensus/mode.ts';
export * from './consensus/poa.ts';

// Rounds, execution, replay (SPEC §8)
export * from './receipt.ts';
export * from './round.ts';
export * from './execute.ts';
export * from './replay.ts';
