import type { Database } from './database.ts';
import { insertEvents, type NewEvent } from './events.ts';
import { assertLease, type LeaseClaim } from './lease.ts';
import type { HaltSignature } from './schema-consensus.ts';
import { preparedReads } from './prepared-reads.ts';
import { num } from './sql.ts';

/**
 * Non-cooperation in multisig subtrees (SPEC §5): an open proposal that outlives the mode's
 * `proposalTimeoutMs` expires (its transactions were never touched, so they simply stay pending
 * in log order); after `haltAfter` consecutive expiries at one height the subtree halts and
 * refuses new transactions until its signers sign a resume.
 */

export interface Halt {
  subtree: string;
  seq: number;
  height: number;
  haltedAt: number;
  resumedAt: number | null;
  signatures: HaltSignature[];
}

export interface ExpireResult {
  /** False when the proposal was no longer open (finalized or expired meanwhile): nothing written. */
  expired: boolean;
  /** Expired proposals at this height since the last resume, this one included. */
  consecutive: number;
  /** The halt this expiry caused, if any. */
  halt?: number;
}

/**
 * Expires one open proposal, behind the leader's lease, in ONE write transaction with its
 * `proposal.expired` event and — when it is the `haltAfter`-th in a row — the halt, its row and
 * the `subtree.halted` event.
 */
export async function expireProposal(
  db: Database,
  input: {
    hash: string;
    subtree: string;
    height: number;
    haltAfter: number;
    lease: LeaseClaim;
    now: number;
    /** Extra fields for the events (e.g. the proposal's tx count). */
    eventData?: Record<string, string | number>;
  },
): Promise<ExpireResult> {
  return db.write(async (tx) => {
    await assertLease(tx, input.lease, input.now);
    const upd = await tx.execute({
      sql: "UPDATE proposals SET status = 'expired' WHERE hash = ? AND subtree = ? AND status = 'open'",
      args: [input.hash, input.subtree],
    });
    if (upd.rowsAffected !== 1) return { expired: false, consecutive: 0 };
    const since = await tx.execute({ sql: 'SELECT max(resumed_at) FROM halts WHERE subtree = ?', args: [input.subtree] });
    const resumedAt = since.rows[0]?.[0] == null ? -1 : num(since.rows[0][0]);
    const count = await tx.execute({
      sql: "SELECT count(*) FROM proposals WHERE subtree = ? AND height = ? AND status = 'expired' AND created_at >= ?",
      args: [input.subtree, input.height, resumedAt],
    });
    const consecutive = num(count.rows[0]![0]);
    const { subtree } = input;
    const events: NewEvent[] = [
      { type: 'proposal.expired', subtree, data: { subtree, height: input.height, hash: input.hash, consecutive, ...input.eventData } },
    ];
    let halt: number | undefined;
    if (consecutive >= input.haltAfter) {
      const last = await tx.execute({ sql: 'SELECT coalesce(max(seq), 0), (SELECT height FROM subtrees WHERE id = ?) FROM halts WHERE subtree = ?', args: [subtree, subtree] });
      halt = num(last.rows[0]![0]) + 1;
      const head = num(last.rows[0]![1]);
      await tx.execute({
        sql: "INSERT INTO halts (subtree, seq, height, halted_at, resumed_at, signatures) VALUES (?, ?, ?, ?, NULL, '[]')",
        args: [subtree, halt, head, input.now],
      });
      await tx.execute({ sql: "UPDATE subtrees SET status = 'halted' WHERE id = ?", args: [subtree] });
      events.push({ type: 'subtree.halted', subtree, data: { subtree, height: head, halt, expiries: consecutive } });
    }
    await insertEvents(tx, events, input.now);
    return { expired: true, consecutive, ...(halt !== undefined ? { halt } : {}) };
  });
}

function haltFromRow(r: unknown[]): Halt {
  return {
    subtree: String(r[0]),
    seq: num(r[1]),
    height: num(r[2]),
    haltedAt: num(r[3]),
    resumedAt: r[4] === null ? null : num(r[4]),
    signatures: JSON.parse(String(r[5])) as HaltSignature[],
  };
}

/** The subtree's most recent halt (lifted or not), if it ever halted. */
export async function latestHalt(db: Database, subtree: string): Promise<Halt | undefined> {
  const rs = await db.read.execute({
    sql: 'SELECT subtree, seq, height, halted_at, resumed_at, signatures FROM halts WHERE subtree = ? ORDER BY seq DESC LIMIT 1',
    args: [subtree],
  });
  return rs.rows[0] ? haltFromRow(rs.rows[0] as unknown as unknown[]) : undefined;
}

export type ResumeResult = { status: 'resumed' | 'collecting' | 'already_resumed' | 'unknown_halt'; halt?: Halt };

/**
 * Adds verified resume signatures to halt `seq` in one write transaction; when `isEnough` says
 * the collected set meets the rule, the halt is lifted in the same transaction (subtree active
 * again, `subtree.resumed` event).
 */
export async function addResumeSignatures(
  db: Database,
  input: {
    subtree: string;
    seq: number;
    signatures: readonly HaltSignature[];
    isEnough: (sigs: readonly HaltSignature[]) => boolean;
    now: number;
  },
): Promise<ResumeResult> {
  return db.write(async (tx) => {
    const rs = await tx.execute({
      sql: 'SELECT subtree, seq, height, halted_at, resumed_at, signatures FROM halts WHERE subtree = ? AND seq = ?',
      args: [input.subtree, input.seq],
    });
    if (!rs.rows[0]) return { status: 'unknown_halt' };
    const halt = haltFromRow(rs.rows[0] as unknown as unknown[]);
    if (halt.resumedAt !== null) return { status: 'already_resumed', halt };
    const sigs = [...halt.signatures];
    for (const s of input.signatures) if (!sigs.some((x) => x.signer === s.signer)) sigs.push(s);
    const done = input.isEnough(sigs);
    await tx.execute({
      sql: 'UPDATE halts SET signatures = ?, resumed_at = ? WHERE subtree = ? AND seq = ?',
      args: [JSON.stringify(sigs), done ? input.now : null, input.subtree, input.seq],
    });
    if (done) {
      await tx.execute({ sql: "UPDATE subtrees SET status = 'active' WHERE id = ? AND status = 'halted'", args: [input.subtree] });
      await insertEvents(tx, [{ type: 'subtree.resumed', subtree: input.subtree, data: { subtree: input.subtree, height: halt.height, halt: halt.seq } }], input.now);
    }
    return { status: done ? 'resumed' : 'collecting', halt: { ...halt, signatures: sigs, resumedAt: done ? input.now : null } };
  });
}

/**
 * What keeps subtrees with pending transactions from having a round now: their open proposal
 * (creation time) and whether they are halted. The leader reads this before taking the lease, so
 * a pass that could only wait writes nothing.
 */
export async function roundBlockers(db: Database, subtrees: readonly string[]): Promise<{ open: Map<string, number>; halted: Set<string> }> {
  const open = new Map<string, number>();
  const halted = new Set<string>();
  for (let i = 0; i < subtrees.length; i += 500) {
    const part = subtrees.slice(i, i + 500);
    const list = part.map(() => '?').join(', ');
    const openSql = `SELECT subtree, created_at FROM proposals WHERE status = 'open' AND subtree IN (${list})`;
    const haltedSql = `SELECT id FROM subtrees WHERE status = 'halted' AND id IN (${list})`;
    // Two prepared reads where the database has them (not one snapshot, which this filter does not
    // need: runRound re-reads the subtree's status and open proposal before it executes anything).
    const fast = preparedReads(db);
    const [props, stopped] = fast
      ? [fast.all(openSql, part), fast.all(haltedSql, part)]
      : (
          await db.read.batch([
            { sql: openSql, args: part },
            { sql: haltedSql, args: part },
          ])
        ).map((rs) => rs.rows);
    for (const r of props!) open.set(String(r[0]), num(r[1]));
    for (const r of stopped!) halted.add(String(r[0]));
  }
  return { open, halted };
}
