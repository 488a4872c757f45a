import { fromHex } from '../core/hex.ts';
import { allAttestations, mergeTimestamp, newTimestamp, pendingNodes, readTimestamp, writeTimestamp, type Timestamp } from '../core/ots.ts';
import { startScheduler, type Scheduler } from '../leader/scheduler.ts';
import type { NodeContext } from '../services/context.ts';
import { dueAnchors, saveAnchorAttempt, type AnchorRow } from '../store/checkpoints.ts';
import { fetchUpgrade, isAllowedCalendarUri, submitDigest, type CalendarOptions, type FetchLike } from './ots-calendar-client.ts';

/**
 * Anchors checkpoint log roots in Bitcoin through OpenTimestamps calendars, in its own loop: no
 * database transaction is open while a calendar is asked, and rounds and checkpoints never wait
 * for it. Per anchor: submit the digest to every calendar that has not accepted it yet, merge the
 * answers into one timestamp tree, later ask the calendars named by pending attestations for
 * upgrades, and mark the anchor confirmed (with an `anchor.confirmed` event, in the same
 * transaction) once a Bitcoin block header attestation appears. Failures back off exponentially
 * with jitter, capped at an hour.
 */
export interface AnchorDeps {
  fetch?: FetchLike;
  /** Jitter source in [0, 1) (tests pass a constant). */
  random?: () => number;
  /**
   * Calendar URL → the back-off step last warned about, so a failing calendar is logged at warn
   * once per step, not once per checkpoint and pass. The worker keeps one for its lifetime.
   */
  warned?: Map<string, number>;
}

export interface AnchorPassReport {
  attempted: number;
  confirmed: number[];
  errors: { seq: number; error: string }[];
}

const BATCH = 16;
const MAX_BACKOFF_MS = 3_600_000;

export async function runAnchorPass(ctx: NodeContext, deps: AnchorDeps = {}): Promise<AnchorPassReport> {
  const report: AnchorPassReport = { attempted: 0, confirmed: [], errors: [] };
  const due = await dueAnchors(ctx.db, ctx.now(), BATCH);
  const warned = deps.warned ?? new Map<string, number>();
  for (const row of due) {
    report.attempted++;
    const r = await attempt(ctx, row, deps, warned);
    if (r.confirmed) report.confirmed.push(row.seq);
    if (r.error) report.errors.push({ seq: row.seq, error: r.error });
  }
  return report;
}

async function attempt(ctx: NodeContext, row: AnchorRow, deps: AnchorDeps, warned: Map<string, number>): Promise<{ confirmed: boolean; error?: string }> {
  const cfg = ctx.config;
  const opts: CalendarOptions = { timeoutMs: cfg.otsTimeoutMs, hash: ctx.hash, ...(deps.fetch ? { fetch: deps.fetch } : {}) };
  const digest = fromHex(row.digest, 32);
  const ts: Timestamp = row.proof ? readTimestamp(row.proof, digest, ctx.hash) : newTimestamp(digest);
  const errors: string[] = [];
  const failures = new Map<string, string>(); // calendar → its error in this attempt
  const answered = new Set<string>();

  // 1. Submissions still owed, all calendars at once (one slow calendar costs one timeout).
  const unsubmitted: string[] = [];
  const answers = await Promise.allSettled(row.unsubmitted.map((url) => submitDigest(url, digest, opts)));
  answers.forEach((a, i) => {
    const url = row.unsubmitted[i]!;
    if (a.status === 'fulfilled') {
      mergeTimestamp(ts, a.value, ctx.hash);
      answered.add(url);
    } else {
      unsubmitted.push(url);
      const error = String(a.reason instanceof Error ? a.reason.message : a.reason);
      errors.push(error);
      failures.set(url, error);
    }
  });

  // 2. Upgrades for pending attestations from calendars we may ask.
  const known = [...cfg.otsCalendars];
  const pending = pendingNodes(ts).filter((p) => isAllowedCalendarUri(p.uri, known));
  const upgrades = await Promise.allSettled(pending.map((p) => fetchUpgrade(p.uri, p.node.msg, opts)));
  upgrades.forEach((u, i) => {
    const url = pending[i]!.uri;
    if (u.status === 'fulfilled') {
      if (u.value) mergeTimestamp(pending[i]!.node, u.value, ctx.hash);
      answered.add(url);
    } else {
      const error = String(u.reason instanceof Error ? u.reason.message : u.reason);
      errors.push(error);
      failures.set(url, error);
    }
  });

  const bitcoin = allAttestations(ts).find((a) => a.attestation.type === 'bitcoin');
  const height = bitcoin && bitcoin.attestation.type === 'bitcoin' ? bitcoin.attestation.height : null;
  const now = ctx.now();
  const failed = errors.length > 0 && (unsubmitted.length > 0 || ts.attestations.length + ts.ops.length === 0);
  const attempts = failed ? row.attempts + 1 : 0;
  const jitter = 0.5 + (deps.random ?? Math.random)() * 0.5;
  const nextAt = failed
    ? now + Math.round(Math.min(MAX_BACKOFF_MS, cfg.otsIntervalMs * 2 ** Math.min(attempts, 30)) * jitter)
    : unsubmitted.length > 0
      ? now + cfg.otsIntervalMs
      : now + cfg.otsUpgradeIntervalMs;
  const empty = ts.attestations.length + ts.ops.length === 0;
  const saved = await saveAnchorAttempt(ctx.db, {
    seq: row.seq,
    proof: empty ? null : writeTimestamp(ts),
    unsubmitted,
    attempts,
    nextAt,
    lastError: errors.length ? errors.join('; ').slice(0, 1000) : null,
    ...(height !== null
      ? { confirmed: { bitcoinHeight: height, event: { type: 'anchor.confirmed', data: { seq: row.seq, digest: row.digest, bitcoinHeight: height } } } }
      : {}),
    now,
  });
  if (errors.length) ctx.log.debug('anchor attempt had errors', { seq: row.seq, errors, nextAt });
  // At default log levels: each failing calendar once per back-off step; an answer resets it.
  for (const url of answered) if (!failures.has(url)) warned.delete(url);
  for (const [calendar, error] of failures) {
    if (warned.has(calendar) && warned.get(calendar)! >= attempts) continue;
    warned.set(calendar, attempts);
    ctx.log.warn('OpenTimestamps calendar failed; checkpoints stay unanchored there until it answers', {
      calendar,
      error,
      checkpoint: row.seq,
      attempt: attempts,
      retryInMs: nextAt - now,
    });
  }
  return { confirmed: saved && height !== null, ...(errors.length ? { error: errors.join('; ') } : {}) };
}

export interface AnchorWorker {
  kick(): void;
  stop(): Promise<void>;
}

/** Runs anchor passes every `otsIntervalMs` (and soon after a kick), one at a time. */
export function startAnchorWorker(ctx: NodeContext, deps: AnchorDeps = {}): AnchorWorker {
  const warned = deps.warned ?? new Map<string, number>();
  const s: Scheduler = startScheduler({
    intervalMs: ctx.config.otsIntervalMs,
    debounceMs: 10,
    pass: () => runAnchorPass(ctx, { ...deps, warned }),
    onError: (err) => ctx.log.error('anchor pass failed', { error: String(err) }),
  });
  return s;
}
