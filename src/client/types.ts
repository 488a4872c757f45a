import type { SignerSig } from '../core/consensus/signing-rules.ts';
import type { Mode } from '../core/consensus/mode.ts';
import type { JsonValue } from '../core/jcs.ts';
import type { RoundHeader } from '../core/round.ts';
import type { Proof } from '../core/smt/types.ts';
import type { SubtreeRequest } from '../core/subtree-request.ts';
import type { TxEnvelope } from '../core/tx.ts';

/**
 * Response shapes of SPEC §11 as the client reads them. The node may add fields; the client
 * relies only on these, and verification never trusts them without checking.
 */
export interface NodeInfo {
  network: string;
  /** The node's own key (`scheme:hex`): signs acceptances, and rounds where it is the authority. */
  publicKey: string;
  origin?: string;
  version?: string;
  [field: string]: unknown;
}

export interface SubtreeHead {
  id: string;
  owner: string;
  name: string;
  parent: string;
  program: string;
  mode: Mode;
  status: string;
  height: number;
  root: string;
  /** The signed creation request, the anchor that binds id, owner and mode together. */
  request?: SubtreeRequest;
  [field: string]: unknown;
}

export interface Page<T> {
  items: T[];
  next?: string | number;
}

/** SPEC §6 acceptance object; the node signs `digest("accept", accept)`. */
export interface Acceptance {
  v: 1;
  network: string;
  tx: string;
  subtree: string;
  seq: number;
  time: number;
}

export interface SubmitResult {
  /** 202: newly accepted; 200: the node already knew this id. */
  status: 200 | 202;
  id: string;
  accept: Acceptance;
  sig: string;
}

export interface BatchItemResult {
  index: number;
  status: number;
  id?: string;
  accept?: Acceptance;
  sig?: string;
  problem?: { code: string; detail?: string; [field: string]: unknown };
}

export interface Receipt {
  tx: string;
  index: number;
  status: 'ok' | 'failed';
  code?: string;
  /** Gas used, on receipts of user-program transactions (SPEC §7.1). */
  gas?: number;
}

export interface TransactionStatus {
  id: string;
  status: 'pending' | 'executed' | 'failed';
  receipt?: Receipt;
  height?: number;
  /** Position in the subtree's log, and the transaction as received (the node sends both). */
  seq?: number;
  subtree?: string;
  envelope?: TxEnvelope;
  [field: string]: unknown;
}

export type { SignerSig };

/** A proposed round (multisig, pos, PoA with an outside authority). */
export interface ProposalView {
  /** `digest("round", header)`: what co-signers sign. */
  hash: string;
  height: number;
  header: RoundHeader;
  txs: string[];
  signatures: SignerSig[];
  status: 'open' | 'final' | 'expired';
  createdAt: number;
  /** Keys whose signatures count under the mode in force. */
  signers: string[];
  /** Expired multisig proposals: the expiry certificate (SPEC §5). Co-signers check it themselves. */
  certificate?: unknown;
  [field: string]: unknown;
}

/** A halted multisig subtree's resume object (docs/protocol.md). */
export interface ResumeView {
  subtree: string;
  status: 'halted' | 'active';
  resume: { v: 1; network: string; subtree: string; action: 'resume'; height: number; halt: number; round: string; evidence?: string };
  digest: string;
  signatures: SignerSig[];
  signers: string[];
  threshold: number;
  [field: string]: unknown;
}

/** One entry of a subtree's transaction log. */
export interface LogEntry {
  seq: number;
  id: string;
  status: 'pending' | 'executed' | 'failed';
  envelope: TxEnvelope;
  [field: string]: unknown;
}

export interface EvidenceAccepted {
  id: string;
  subtree: string;
  validator: string;
  height: number;
  /** The slash transaction appended to the subtree's log. */
  tx: string;
  createdAt: number;
  [field: string]: unknown;
}

export interface StateResponse {
  key: string;
  exists: boolean;
  value?: JsonValue;
  height: number;
  root: string;
  proof: Proof;
  /** The node embeds the signed round the answer is read at (checked, never trusted). */
  roundHash?: string;
  round?: { header: RoundHeader; signatures: SignerSig[] };
  [field: string]: unknown;
}

export interface RoundResponse {
  header: RoundHeader;
  signatures: SignerSig[];
  txs?: string[];
  /** `digest("round", header)` as the node reports it (checked when present). */
  hash?: string;
  [field: string]: unknown;
}

/** SPEC §12: a subtree the node follows from another node. */
export interface FollowView {
  subtree: string;
  origin: string;
  verify: 'full' | 'headers';
  status: 'syncing' | 'following' | 'halted';
  /** Last round the node verified and serves. */
  height: number;
  originHeight: number;
  verifiedFrom: number;
  /** The origin's node key, pinned when the follow began. */
  originKey: string;
  halt?: { code: string; detail: string; evidence: unknown };
}
