/**
 * Typed failures of store operations that callers must tell apart (the leader retries on some,
 * steps down on others). A write transaction that throws one of these has been rolled back.
 */
export type StoreErrorCode = 'lease_lost' | 'stale_round' | 'tx_log_mismatch' | 'unknown_subtree' | 'unknown_proposal' | 'proposal_closed' | 'voted_expiry';

export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The lease is held by someone else, carries a newer token, or expired: this leader was fenced off. */
export class LeaseLostError extends StoreError {
  override readonly name = 'LeaseLostError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('lease_lost', message, details);
  }
}

/** The subtree's head is not at `height - 1`: another commit got there first, or the caller is behind. */
export class StaleRoundError extends StoreError {
  override readonly name = 'StaleRoundError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('stale_round', message, details);
  }
}

/** The round does not execute exactly the next pending transactions of the log, in order. */
export class TxLogMismatchError extends StoreError {
  override readonly name = 'TxLogMismatchError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('tx_log_mismatch', message, details);
  }
}
