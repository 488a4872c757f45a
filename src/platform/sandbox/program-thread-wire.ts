import type { Mode } from '../../core/consensus/mode.ts';
import type { JsonValue } from '../../core/jcs.ts';
import type { Receipt } from '../../core/receipt.ts';
import type { IdentifiedTx } from '../../core/tx.ts';

/** What a round of a user program needs to run on the program thread: plain data only. */
export interface RoundSpec {
  /** The program's id and source (checked against each other when the program was loaded). */
  id: string;
  source: string;
  /** The subtree's config as its creation request gives it (parsed again on the thread). */
  config: JsonValue;
  /** The creation mode (its system calls) and the round's context. */
  mode: Mode;
  height: number;
  network: string;
  subtree: string;
  host?: string;
}

export type ThreadRequest =
  | { kind: 'plan'; job: number; spec: RoundSpec; txs: readonly IdentifiedTx[] }
  | { kind: 'execute'; job: number; spec: RoundSpec; txs: readonly IdentifiedTx[]; values: Map<string, JsonValue | undefined> };

/** A failure thrown on the thread, rethrown as the same kind on the caller's side. */
export interface ThreadError {
  message: string;
  /** A DstpError's code and details. */
  code?: string;
  details?: Record<string, unknown>;
  /** A SandboxHostError (aborts the round). */
  abortsRound?: boolean;
}

export type ThreadReply =
  | { kind: 'planned'; job: number; keys: string[] }
  | { kind: 'executed'; job: number; writes: Map<string, JsonValue | null>; receipts: Receipt[] }
  | { kind: 'error'; job: number; error: ThreadError };
