import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DstpError, type CoreErrorCode } from '../core/errors.ts';
import { StoreError } from '../store/errors.ts';

/**
 * RFC 9457 problem details. Every error the API sends goes through here, so the mapping from a
 * stable `code` to an HTTP status lives in exactly one table.
 */
export type ProblemCode =
  | 'validation_failed'
  | 'malformed_json'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'bad_signature'
  | 'nonce_mismatch'
  | 'network_mismatch'
  | 'unknown_subtree'
  | 'subtree_exists'
  | 'subtree_halted'
  | 'not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'method_not_allowed'
  | 'conflict'
  | 'unavailable'
  | 'missing_signatures'
  | 'not_a_signer'
  | 'subtree_not_halted'
  | 'evidence_known'
  | 'already_slashed'
  | 'internal_error'
  | 'ics23_exclusion_unsupported'
  | 'invalid_webhook_url'
  | 'webhook_target_private'
  | 'webhook_target_unresolvable'
  | 'unknown_event_type'
  | 'unknown_webhook'
  | 'unknown_delivery'
  | 'webhook_disabled'
  | 'reserved_call'
  | 'unknown_parent'
  | 'duplicate_key'
  | 'too_deeply_nested'
  | 'too_many_values'
  | 'too_many_pending'
  | 'request_aborted'
  | 'unknown_follow'
  | 'follow_exists'
  | 'subtree_hosted'
  | 'peer_not_allowed'
  | 'origin_unreachable'
  | 'origin_bad_answer'
  | 'unsupported_follow'
  | 'headers_only'
  | 'followed_subtree'
  | 'invalid_program'
  | CoreErrorCode;

const STATUS: Record<string, ContentfulStatusCode> = {
  validation_failed: 400,
  malformed_json: 400,
  duplicate_key: 400,
  too_deeply_nested: 400,
  too_many_values: 400,
  request_aborted: 400,
  network_mismatch: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  value_too_large: 413,
  bad_signature: 401,
  invalid_signature: 401,
  unauthorized: 401,
  missing_signatures: 401,
  forbidden: 403,
  not_a_signer: 403,
  reserved_call: 403,
  unknown_parent: 422,
  not_found: 404,
  unknown_subtree: 404,
  unknown_webhook: 404,
  unknown_delivery: 404,
  webhook_disabled: 409,
  method_not_allowed: 405,
  nonce_mismatch: 409,
  subtree_exists: 409,
  subtree_halted: 409,
  subtree_not_halted: 409,
  evidence_known: 409,
  already_slashed: 409,
  conflict: 409,
  rate_limited: 429,
  too_many_pending: 429,
  stale_round: 409,
  tx_log_mismatch: 409,
  lease_lost: 409,
  internal_error: 500,
  // A tree node or value the store should hold is missing: the node is broken, not the request.
  missing_node: 500,
  unavailable: 503,
  unknown_follow: 404,
  follow_exists: 409,
  subtree_hosted: 409,
  peer_not_allowed: 400,
  unsupported_follow: 422,
  headers_only: 404,
  followed_subtree: 409,
  origin_bad_answer: 502,
  origin_unreachable: 503,
};

const TITLE: Record<string, string> = {
  validation_failed: 'Request failed validation',
  malformed_json: 'Body is not valid JSON',
  duplicate_key: 'An object in the body repeats a key',
  too_deeply_nested: 'Body nests too deeply',
  too_many_values: 'Body holds too many values',
  request_aborted: 'Request body ended early',
  unsupported_media_type: 'Body must be application/json',
  payload_too_large: 'Payload too large',
  value_too_large: 'Value too large',
  bad_signature: 'Signature does not verify',
  invalid_signature: 'Signature is malformed',
  nonce_mismatch: 'Nonce is not the next one',
  network_mismatch: 'Wrong network',
  unknown_subtree: 'Unknown subtree',
  subtree_exists: 'Subtree already exists',
  subtree_halted: 'Subtree is halted',
  subtree_not_halted: 'Subtree is not halted',
  invalid_evidence: 'Evidence does not prove equivocation',
  evidence_known: 'Evidence already accepted',
  already_slashed: 'Validator already slashed',
  not_found: 'Not found',
  unauthorized: 'Unauthorized',
  missing_signatures: 'Signatures missing',
  forbidden: 'Forbidden',
  not_a_signer: 'Not a signer of this subtree',
  rate_limited: 'Too many requests',
  too_many_pending: 'Too many pending transactions from this sender',
  internal_error: 'Internal error',
  unavailable: 'Temporarily unavailable',
  ics23_exclusion_unsupported: 'ICS-23 non-existence proofs are not offered',
  invalid_webhook_url: 'Webhook URL is not acceptable',
  webhook_target_private: 'Webhook target is a private address',
  webhook_target_unresolvable: 'Webhook host does not resolve',
  unknown_event_type: 'Unknown event type',
  unknown_webhook: 'Unknown webhook',
  unknown_delivery: 'Unknown delivery',
  webhook_disabled: 'Webhook is disabled',
  reserved_call: 'Call name is reserved for the node',
  unknown_parent: 'Parent subtree does not exist',
  unknown_follow: 'This node does not follow that subtree',
  follow_exists: 'Already followed from another origin',
  subtree_hosted: 'The subtree is hosted by this node',
  peer_not_allowed: 'Origin address is not allowed',
  origin_unreachable: 'Origin is unreachable',
  origin_bad_answer: 'Origin gave an answer that does not verify',
  unsupported_follow: 'This node cannot follow that subtree',
  headers_only: 'This node keeps only the headers of that subtree',
  followed_subtree: 'That subtree is hosted by another node',
};

export function statusOf(code: string): ContentfulStatusCode {
  return STATUS[code] ?? 400; // core validation codes (invalid_key, invalid_args, …) are client errors
}

/** A domain error raised by services; routes never build problem bodies by hand. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    /** Where a program's own code (admission) has no status of its own in the table above. */
    readonly status?: ContentfulStatusCode,
  ) {
    super(detail);
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [k: string]: unknown;
}

export function problemBody(code: string, detail: string, extra: Record<string, unknown> = {}, status = statusOf(code)): ProblemBody {
  return {
    ...extra,
    type: `urn:dstp:problem:${code}`,
    title: TITLE[code] ?? humanize(code),
    status,
    detail,
    code,
  };
}

export function problem(c: Context, code: string, detail: string, extra: Record<string, unknown> = {}): Response {
  const body = problemBody(code, detail, extra);
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, {
    'content-type': 'application/problem+json',
  });
}

/** The problem body for a domain error (ApiError, DstpError); `null` for anything unexpected. */
export function problemOf(err: unknown): ProblemBody | null {
  if (err instanceof ApiError) return problemBody(err.code, err.detail, err.extra, err.status);
  if (err instanceof DstpError) return problemBody(err.code, err.message, err.details ? { details: err.details } : {});
  if (err instanceof StoreError) return problemBody(err.code, err.message, err.details ? { details: err.details } : {});
  if (isDatabaseBusy(err)) {
    // Another process held the write lock past busy_timeout: nothing was written; retry is safe.
    return problemBody('unavailable', 'the database is busy; nothing was written, retry shortly', { retryAfter: 1 });
  }
  return null;
}

/** SQLITE_BUSY / SQLITE_LOCKED from libSQL (local or remote), possibly with an extended code. */
function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: unknown; rawCode?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

function humanize(code: string): string {
  const s = code.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
