/**
 * dstp client SDK (browser-safe: fetch, Web Crypto randomness, @noble/* and pure core modules).
 * Keys, signing, the HTTP client and verification of what a node answers.
 */
export { generateKey, keyFromSecret, parseKeyPair, publicKeyOf, randomBytes, isScheme, type KeyPair, type SigningKey } from './keys.ts';
export {
  signTransaction,
  buildSubtreeRequest,
  signSubtreeRequest,
  signDigestHex,
  subtreeIdHex,
  tokenGenesis,
  toAmount,
  type TransactionDraft,
  type SignedTransaction,
  type SubtreeDraft,
} from './sign.ts';
export {
  DstpClient,
  DstpHttpError,
  DstpTimeoutError,
  type ClientOptions,
  type FetchLike,
  type Problem,
  type SendOptions,
  type SendResult,
  type WaitOptions,
} from './http.ts';
export {
  verifyStateResponse,
  fetchVerifiedState,
  verifyAcceptance,
  verifySubtreeRequest,
  VerificationError,
  type VerificationLink,
  type VerifyStateOptions,
  type VerifiedState,
  type LinkCheck,
  type StateSource,
} from './verify.ts';
export type * from './types.ts';
export type { Scheme } from '../core/keys.ts';
export type { Mode } from '../core/consensus/mode.ts';
export type { TxEnvelope, Tx } from '../core/tx.ts';
export type { SubtreeRequest, SubtreeSpec, GenesisEntry } from '../core/subtree-request.ts';
export type { RoundHeader } from '../core/round.ts';
export type { Proof } from '../core/smt/types.ts';
export { verifyChainResponse, fetchChain, type ChainResponse, type VerifyChainOptions, type VerifiedChain } from './verify-chain.ts';
export { verifyProof } from '../core/smt/verify.ts';
export {
  walkProof,
  inspectRound,
  receiptsMatchRoot,
  inspectTransaction,
  inspectOts,
  valueHashOf,
  type ProofStep,
  type ProofWalk,
  type RoundInspection,
  type OtsInspection,
} from './inspect.ts';
