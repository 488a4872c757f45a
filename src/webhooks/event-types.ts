/**
 * Event types a subscription may ask for: SPEC §10's list, plus `subtree.created` and
 * `subtree.resumed`, which the node also writes to the outbox (with the subtree row and with the
 * lifted halt), and `follow.synced` / `follow.halted` (a follow caught up with its origin, or
 * halted on data that does not verify; SPEC §12). The delivery path itself is type-agnostic: whatever type a feature writes to
 * `events` reaches the subscriptions that list it.
 */
export const WEBHOOK_EVENT_TYPES = [
  'tx.executed',
  'tx.failed',
  'round.finalized',
  'proposal.expired',
  'subtree.halted',
  'checkpoint.created',
  'anchor.confirmed',
  'subtree.created',
  'subtree.resumed',
  'follow.synced',
  'follow.halted',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

export function isWebhookEventType(s: string): s is WebhookEventType {
  return KNOWN.has(s);
}

/** The `type` of a test ping; never written to the outbox and never subscribable. */
export const PING_EVENT_TYPE = 'webhook.test';
