/**
 * Every failure the core can report carries a stable code. The HTTP layer maps codes to
 * problem+json statuses in one place (src/api/problem.ts); nothing else inspects messages.
 */
export type CoreErrorCode =
  | 'invalid_request'
  | 'invalid_hex'
  | 'invalid_length'
  | 'invalid_json'
  | 'invalid_key'
  | 'invalid_signature'
  | 'bad_signature'
  | 'unsupported_scheme'
  | 'invalid_name'
  | 'invalid_state_key'
  | 'value_too_large'
  | 'invalid_proof'
  | 'invalid_tx'
  | 'invalid_args'
  | 'unknown_call'
  | 'unknown_program'
  | 'invalid_config'
  | 'invalid_genesis'
  | 'invalid_mode'
  | 'invalid_subtree'
  | 'invalid_round'
  | 'round_mismatch'
  | 'invalid_evidence'
  | 'nonce_mismatch'
  | 'undeclared_read'
  | 'missing_node'
  | 'invalid_range';

export class DstpError extends Error {
  override readonly name = 'DstpError';
  constructor(
    readonly code: CoreErrorCode,
    message: string,
    /** Evidence for the caller: which field, expected vs got, … */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function fail(code: CoreErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new DstpError(code, message, details);
}
