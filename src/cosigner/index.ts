/**
 * The co-signer library (`dstp cosign` runs it): follow a multisig or pos subtree through a node's
 * API with a replica of one's own, and sign exactly the rounds whose roots follow from the log.
 * Server-side only (libSQL); the browser-safe SDK is src/client/.
 */
export { Cosigner, ForkError, signResume, type CosignEvent, type CosignerOptions, type StepReport } from './cosigner.ts';
export { verifyRound, modeAfter, type ReplicaTip, type RoundVerdict, type FetchedTx, type Mismatch, type VerifyInput } from './verify-round.ts';
