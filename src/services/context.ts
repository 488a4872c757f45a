import type { WriteLimits } from '../api/middleware/rate-limit.ts';
import type { Config } from '../config.ts';
import type { Sha256 } from '../core/hash.ts';
import type { PublicKey, SignatureVerifier } from '../core/keys.ts';
import type { SparseMerkleTree } from '../core/smt/tree.ts';
import type { NodeSigner } from '../platform/node-signer.ts';
import type { Sandbox } from '../platform/sandbox/engine.ts';
import type { CachedNodeStore, Database, GroupCommitter } from '../store/index.ts';
import type { AdmissionGate } from './admission.ts';
import type { ProgramLibrary } from '../platform/sandbox/program-library.ts';
import type { ProgramThread } from '../platform/sandbox/program-thread.ts';
import type { SubtreeCache } from './subtree-cache.ts';

/**
 * The ports every service verb and the leader work through. Built once per process (or per
 * Worker isolate) by `createNode`; nothing in services/ or api/ reaches for globals.
 */
export interface NodeContext {
  readonly config: Config;
  readonly db: Database;
  /** The node's ed25519 identity: signs acceptances and rounds it is the authority for. */
  readonly signer: NodeSigner;
  readonly verifier: SignatureVerifier;
  /** parsePublicKey with a bounded per-process memo (point decoding costs more than a native verify). */
  readonly parseKey: (s: string) => PublicKey;
  /** SHA-256 used for trees and digests (native where the runtime has it; identical bytes). */
  readonly hash: Sha256;
  /** Tree and value store over libSQL behind an LRU cache (content-addressed, never stale). */
  readonly store: CachedNodeStore;
  readonly tree: SparseMerkleTree;
  readonly committer: GroupCommitter;
  readonly subtrees: SubtreeCache;
  /**
   * The programs subtrees may run (SPEC §7): `createNode({ programs })` plus user programs
   * (js:<id>), which `programs.load(name)` brings in from the store before a lookup.
   */
  readonly programs: ProgramLibrary;
  /** Wall clock, for metadata only (acceptance time, round time, lease expiry). */
  readonly now: () => number;
  /** Asks the scheduler for a leader pass soon (no-op where no scheduler runs in-process). */
  kickLeader(): void;
  /** Asks the webhook worker to look for due deliveries soon (absent where none runs in-process). */
  kickWebhooks?(): void;
  /** SPEC §7.1 admission at accept time, with its per-process caches. */
  readonly admission: AdmissionGate;
  /** Token buckets of this process for write requests (per client, per peer, per sender). */
  readonly limits: WriteLimits;
  /** Asks the follow loop (SPEC §12) to sync soon (absent where none runs in-process). */
  kickFollows?(): void;
  /** The user-program engine (SPEC §7.1), loaded on first use and kept for the process. */
  sandbox(): Promise<Sandbox>;
  /** Where the leader runs user programs' rounds, off the serving thread (null: in-thread). */
  readonly programThread?: ProgramThread | null;
  /** Unique per process: the lease holder id. */
  readonly instanceId: string;
  readonly log: Logger;
}

export interface Logger {
  error(msg: string, data?: Record<string, unknown>): void;
  /** Something outside the node is failing (a calendar, a peer); the node goes on without it. */
  warn(msg: string, data?: Record<string, unknown>): void;
  info(msg: string, data?: Record<string, unknown>): void;
  debug(msg: string, data?: Record<string, unknown>): void;
}
