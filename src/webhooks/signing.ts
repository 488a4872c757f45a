import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signing (SPEC §10) through the `standardwebhooks` package, so the bytes we sign
 * are the ones every receiver library verifies: `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`.
 */

const SECRET_PREFIX = 'whsec_';
/** 32 bytes: the HMAC-SHA256 block-size half recommended for keys (Standard Webhooks: 24–64). */
const SECRET_BYTES = 32;

/** A fresh `whsec_<base64>` secret from the platform CSPRNG. */
export function newWebhookSecret(): string {
  const key = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return SECRET_PREFIX + btoa(String.fromCharCode(...key));
}

// Decoding a secret costs little, but the worker signs with the same few secrets all day.
const signers = new Map<string, Webhook>();
const SIGNERS_MAX = 256;

function signerFor(secret: string): Webhook {
  let w = signers.get(secret);
  if (!w) {
    if (signers.size >= SIGNERS_MAX) signers.clear();
    w = new Webhook(secret);
    signers.set(secret, w);
  }
  return w;
}

/**
 * The `webhook-signature` header value: one `v1,…` signature per secret, space-separated (during a
 * rotation's grace period the old secret signs too, so receivers holding either one verify).
 */
export function signatureHeader(secrets: readonly string[], msgId: string, at: Date, body: string): string {
  return secrets.map((s) => signerFor(s).sign(msgId, at, body)).join(' ');
}

/**
 * The request body `{type, timestamp, data}`: `timestamp` is when the event was committed (ISO
 * 8601), `data` the stored JSON as is. Identical bytes on every retry of one delivery.
 */
export function eventBody(type: string, createdAt: number, dataJson: string): string {
  return `{"type":${JSON.stringify(type)},"timestamp":"${new Date(createdAt).toISOString()}","data":${dataJson}}`;
}

/** The secrets that sign at `now`: the current one, and the previous one inside its grace period. */
export function signingSecrets(
  s: { secret: string; previousSecret: string | null; previousSecretExpiresAt: number | null },
  now: number,
): string[] {
  return s.previousSecret && (s.previousSecretExpiresAt ?? 0) > now ? [s.secret, s.previousSecret] : [s.secret];
}
