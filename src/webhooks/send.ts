import { parseRetryAfter } from './backoff.ts';
import { signatureHeader } from './signing.ts';
import { WebhookUrlError, type TargetGuard } from './target-guard.ts';

/** How much of a response body is kept in the delivery log. */
export const RESPONSE_SNIPPET_BYTES = 1024;

export interface SendRequest {
  url: string;
  /** The stable `webhook-id`. */
  msgId: string;
  body: string;
  secrets: readonly string[];
  timeoutMs: number;
  guard: TargetGuard;
  userAgent: string;
  /** Aborts the send from outside (shutdown). */
  signal?: AbortSignal;
  now?: () => number;
}

export interface SendOutcome {
  ok: boolean;
  /** HTTP status, or null when no response arrived. */
  status: number | null;
  latencyMs: number;
  /** Why it failed, for the delivery log; never contains a secret. */
  error: string | null;
  /** The start of the response body (truncated). */
  response: string | null;
  retryAfterMs: number | null;
  /** Stopped by the caller's signal (not the receiver's fault: not an attempt). */
  aborted: boolean;
}

/**
 * One signed POST (Standard Webhooks headers) with a deadline covering the whole exchange. The
 * target is checked by the guard right before sending (DNS may have changed since creation);
 * redirects are NOT followed (a 3xx is a failure: a redirect could point anywhere, also inside).
 * Only 2xx counts as delivered.
 */
export async function sendWebhook(r: SendRequest): Promise<SendOutcome> {
  const now = r.now ?? Date.now;
  const t0 = performance.now();
  const elapsed = () => Math.round(performance.now() - t0);
  const fail = (error: string, extra: Partial<SendOutcome> = {}): SendOutcome => ({
    ok: false,
    status: null,
    latencyMs: elapsed(),
    error,
    response: null,
    retryAfterMs: null,
    aborted: false,
    ...extra,
  });

  const url = new URL(r.url);
  try {
    await r.guard.check(url);
  } catch (err) {
    if (err instanceof WebhookUrlError) return fail(`refused: ${err.message}`);
    throw err;
  }
  const at = new Date(now());
  const headers = {
    'content-type': 'application/json',
    'user-agent': r.userAgent,
    'webhook-id': r.msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatureHeader(r.secrets, r.msgId, at, r.body),
  };
  const timeout = AbortSignal.timeout(r.timeoutMs);
  const signal = r.signal ? AbortSignal.any([timeout, r.signal]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: r.body, redirect: 'manual', signal });
  } catch (err) {
    if (r.signal?.aborted) return fail('aborted: the node is shutting down', { aborted: true });
    if (timeout.aborted) return fail(`timeout: no response within ${r.timeoutMs} ms`);
    return fail(`connection failed: ${describe(err)}`);
  }
  let response: string | null = null;
  try {
    response = await readSnippet(res, RESPONSE_SNIPPET_BYTES);
  } catch (err) {
    // The status line decides; a body that stalls or breaks is only noted.
    response = `(body not read: ${timeout.aborted ? 'timeout' : describe(err)})`;
  }
  const ok = res.status >= 200 && res.status < 300;
  let error: string | null = null;
  if (!ok) error = res.status >= 300 && res.status < 400 ? `redirect ${res.status} not followed` : `HTTP ${res.status}`;
  return {
    ok,
    status: res.status,
    latencyMs: elapsed(),
    error,
    response,
    retryAfterMs: ok ? null : parseRetryAfter(res.headers.get('retry-after'), now()),
    aborted: false,
  };
}

/** Reads at most `max` bytes of the body, then drops the rest (never buffers a huge response). */
async function readSnippet(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
      if (size > max) {
        truncated = true;
        break;
      }
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let off = 0;
  for (const p of parts) {
    const n = Math.min(p.byteLength, bytes.length - off);
    bytes.set(p.subarray(0, n), off);
    off += n;
    if (off >= bytes.length) break;
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return truncated ? `${text}…(truncated)` : text;
}

function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : null;
    const msg = err instanceof Error ? err.message : String(err);
    return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  }
  return String(err);
}
