import { checkpointHash, checkpointLeafHash, checkpointNote, globalKey, globalValue, parseCheckpoint, type Checkpoint } from '../core/checkpoint.ts';
import { EMPTY_HASH } from '../core/hash.ts';
import { fromHex, toHex, utf8 } from '../core/hex.ts';
import { asJson } from '../core/jcs.ts';
import { assembleNote, noteKeyId, noteSignatureLine } from '../core/note.ts';
import { ROOT_ID_HEX } from '../core/object-id.ts';
import { ZERO_HASH_HEX } from '../core/round.ts';
import { LEADER_LEASE } from '../leader/leader-pass.ts';
import type { NodeContext } from '../services/context.ts';
import { changedTopLevelHeads, CheckpointRaceError, insertCheckpoint, latestCheckpoint, type CheckpointRow } from '../store/checkpoints.ts';
import { acquireLease, LeaseLostError } from '../store/index.ts';
import type { CheckpointLog } from './checkpoint-log.ts';

export interface CheckpointReport {
  /** `built` = a new checkpoint; `unchanged` = nothing moved since the last one; `not_leader` = lease held elsewhere. */
  status: 'built' | 'unchanged' | 'not_leader' | 'lease_lost' | 'race';
  seq?: number;
  hash?: string;
  globalRoot?: string;
  logRoot?: string;
  /** Subtrees whose entry changed. */
  changed?: number;
}

export interface CheckpointDeps {
  log: CheckpointLog;
  /** Calendars to anchor with; empty = anchoring off (no anchor row). */
  calendars: readonly string[];
}

/** The node key's raw 32 bytes from its `ed25519:<hex>` address. */
export function nodePublicKeyBytes(publicKey: string): Uint8Array {
  if (!publicKey.startsWith('ed25519:')) throw new Error(`the node key must be ed25519, got ${publicKey}`);
  return fromHex(publicKey.slice('ed25519:'.length), 32);
}

/**
 * Builds the next checkpoint when any top-level subtree's final head moved since the last one
 * (or when there is none yet and at least one subtree exists): applies the changed entries to the
 * previous global root, signs `digest("checkpoint", c)` and the tlog-checkpoint note, and commits
 * checkpoint + entries + global tree nodes + anchor row + `checkpoint.created` in one transaction
 * behind the leader lease. Idle builds read only.
 */
export async function buildCheckpoint(ctx: NodeContext, deps: CheckpointDeps): Promise<CheckpointReport> {
  const last = await latestCheckpoint(ctx.db);
  const changed = await changedTopLevelHeads(ctx.db, ROOT_ID_HEX);
  if (changed.length === 0) return { status: 'unchanged', ...(last ? { seq: last.seq } : {}) };

  const now = ctx.now();
  const grant = await acquireLease(ctx.db, { name: LEADER_LEASE, holder: ctx.instanceId, ttlMs: ctx.config.leaseTtlMs, now });
  if (!grant) return { status: 'not_leader' };
  const claim = { name: LEADER_LEASE, holder: ctx.instanceId, token: grant.token };

  const seq = last ? last.seq + 1 : 0;
  const prevRoot = last ? fromHex(last.globalRoot, 32) : EMPTY_HASH;
  const applied = await ctx.tree.apply(
    prevRoot,
    changed.map((h) => ({ key: globalKey(h.subtree), value: globalValue(h) })),
  );
  const checkpoint: Checkpoint = parseCheckpoint({
    v: 1,
    network: ctx.config.network,
    seq,
    globalRoot: toHex(applied.root),
    prev: last ? last.hash : ZERO_HASH_HEX,
    time: now,
  });
  const hash = checkpointHash(checkpoint, ctx.hash);
  const leaf = checkpointLeafHash(checkpoint, ctx.hash);
  await deps.log.sync(seq);
  const logRoot = deps.log.rootWithNext(leaf);
  const sig = await ctx.signer.sign(hash);
  const text = checkpointNote(ctx.config.origin, checkpoint, logRoot);
  const pub = nodePublicKeyBytes(ctx.signer.publicKey);
  const noteSig = await ctx.signer.sign(utf8(text));
  const note = assembleNote(text, [noteSignatureLine(ctx.config.origin, noteKeyId(ctx.config.origin, pub, ctx.hash), noteSig)]);

  const row: CheckpointRow = {
    seq,
    hash: toHex(hash),
    body: asJson(checkpoint),
    sig: toHex(sig),
    signer: ctx.signer.publicKey,
    globalRoot: checkpoint.globalRoot,
    leafHash: toHex(leaf),
    logRoot: toHex(logRoot),
    note,
    createdAt: now,
  };
  try {
    await insertCheckpoint(ctx.db, {
      row,
      entries: changed,
      nodes: applied,
      values: applied.values,
      events: [
        {
          type: 'checkpoint.created',
          data: { seq, hash: row.hash, globalRoot: row.globalRoot, logSize: seq + 1, logRoot: row.logRoot, changed: changed.map((c) => c.subtree) },
        },
      ],
      ...(deps.calendars.length > 0 ? { anchor: { digest: row.logRoot, calendars: [...deps.calendars] } } : {}),
      lease: claim,
      now,
    });
  } catch (err) {
    if (err instanceof LeaseLostError) return { status: 'lease_lost' };
    if (err instanceof CheckpointRaceError || isUniqueViolation(err)) return { status: 'race' };
    throw err;
  }
  ctx.store.remember(applied, applied.values);
  return { status: 'built', seq, hash: row.hash, globalRoot: row.globalRoot, logRoot: row.logRoot, changed: changed.length };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && /UNIQUE constraint failed: checkpoints/.test(err.message);
}

/** Serializes builds within one process (the scheduler and the admin endpoint may both ask). */
export class CheckpointBuilder {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly ctx: NodeContext,
    private readonly deps: CheckpointDeps,
  ) {}

  build(): Promise<CheckpointReport> {
    const run = this.tail.then(
      () => buildCheckpoint(this.ctx, this.deps),
      () => buildCheckpoint(this.ctx, this.deps),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }
}
