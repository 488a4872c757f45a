import type { Database, Executor } from './database.ts';
import { insertEvents, type NewEvent } from './events.ts';
import type { HaltSignature } from './schema-consensus.ts';
import { preparedReads } from './prepared-reads.ts';
import { num } from './sql.ts';

/**
 * Non-cooperation in multisig subtrees (SPEC §5): an open proposal expires only when `threshold`
 * distinct current signers voted to expire it (a certificate; `expiry_votes`). Its transactions
 * were never touched, so they simply stay pending in log order. After `haltAfter` consecutive
 * expiries at one height the subtree halts and refuses new transactions until its signers sign a
 * resume; accepted equivocation evidence halts it too, and that halt names the evidence.
 */

export interface Halt {
  subtree: string;
  seq: number;
  height: number;
  haltedAt: number;
  resumedAt: number | null;
  signatures: HaltSignature[];
  /** The multisig equivocation evidence that caused the halt, if that is what did. */
  evidence: string | null;
}

export interface ExpiryVote {
  subtree: string;
  height: number;
  round: string;
  signer: string;
  sig: string;
}

export type VoteResult =
  /** No proposal with that hash at that height of the subtree. */
  | { status: 'unknown_proposal' }
  /** The signer signed that proposal: a vote to expire it would be equivocation. */
  | { status: 'signed_it' }
  | { status: 'known' | 'recorded'; votes: ExpiryVote[] }
  /** This vote completed a certificate; `expired` says whether the (open) proposal expired by it. */
  | { status: 'certified'; votes: ExpiryVote[]; expired?: { consecutive: number; halt?: number } };

/**
 * Records one verified expiry vote in ONE write transaction. When `isCertificate` says the votes
 * for that round now form a certificate and the proposal is open, it expires in the same
 * transaction with its `proposal.expired` event — and, when it is the `haltAfter`-th in a row at
 * its height, the halt, its row and the `subtree.halted` event.
 */
export async function recordExpiryVote(
  db: Database,
  input: {
    vote: ExpiryVote;
    isCertificate: (signers: readonly string[]) => boolean;
    haltAfter: number;
    now: number;
  },
): Promise<VoteResult> {
  const v = input.vote;
  return db.write(async (tx) => {
    const p = await tx.execute({
      sql: 'SELECT status, signatures, tx_ids FROM proposals WHERE hash = ? AND subtree = ? AND height = ?',
      args: [v.round, v.subtree, v.height],
    });
    const row = p.rows[0];
    if (!row) return { status: 'unknown_proposal' };
    const signed = JSON.parse(String(row[1])) as HaltSignature[];
    if (signed.some((s) => s.signer === v.signer)) return { status: 'signed_it' };
    const ins = await tx.execute({
      sql: 'INSERT INTO expiry_votes (subtree, height, round, signer, sig, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      args: [v.subtree, v.height, v.round, v.signer, v.sig, input.now],
    });
    const votes = await votesIn(tx, [v.round]);
    if (ins.rowsAffected === 0) return { status: 'known', votes };
    if (!input.isCertificate(votes.map((x) => x.signer))) return { status: 'recorded', votes };
    if (String(row[0]) !== 'open') return { status: 'certified', votes };
    const txCount = (JSON.parse(String(row[2])) as unknown[]).length;
    const expired = await expireInTx(tx, { hash: v.round, subtree: v.subtree, height: v.height, haltAfter: input.haltAfter, now: input.now, eventData: { txCount, signatures: signed.length, votes: votes.length } });
    return { status: 'certified', votes, expired };
  });
}

async function votesIn(tx: Executor, rounds: readonly string[]): Promise<ExpiryVote[]> {
  if (rounds.length === 0) return [];
  const rs = await tx.execute({
    sql: `SELECT subtree, height, round, signer, sig FROM expiry_votes WHERE round IN (${rounds.map(() => '?').join(', ')}) ORDER BY created_at, signer`,
    args: [...rounds],
  });
  return rs.rows.map((r) => ({ subtree: String(r[0]), height: num(r[1]), round: String(r[2]), signer: String(r[3]), sig: String(r[4]) }));
}

/** The verified expiry votes recorded for these round hashes. */
export async function expiryVotesFor(db: Database, rounds: readonly string[]): Promise<ExpiryVote[]> {
  return votesIn(db.read, rounds);
}

async function expireInTx(
  tx: Executor,
  input: { hash: string; subtree: string; height: number; haltAfter: number; now: number; eventData?: Record<string, string | number> },
): Promise<{ consecutive: number; halt?: number }> {
  await tx.execute({
    sql: "UPDATE proposals SET status = 'expired' WHERE hash = ? AND subtree = ? AND status = 'open'",
    args: [input.hash, input.subtree],
  });
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
    halt = await insertHalt(tx, subtree, input.now, null);
    events.push({ type: 'subtree.halted', subtree, data: { subtree, height: await headHeight(tx, subtree), halt, expiries: consecutive } });
  }
  await insertEvents(tx, events, input.now);
  return { consecutive, ...(halt !== undefined ? { halt } : {}) };
}

async function headHeight(tx: Executor, subtree: string): Promise<number> {
  const rs = await tx.execute({ sql: 'SELECT height FROM subtrees WHERE id = ?', args: [subtree] });
  return num(rs.rows[0]![0]);
}

/** Halts the subtree (next halt seq, at its head height) and returns the halt's seq. */
export async function insertHalt(tx: Executor, subtree: string, now: number, evidence: string | null): Promise<number> {
  const last = await tx.execute({ sql: 'SELECT coalesce(max(seq), 0) FROM halts WHERE subtree = ?', args: [subtree] });
  const seq = num(last.rows[0]![0]) + 1;
  const head = await headHeight(tx, subtree);
  await tx.execute({
    sql: "INSERT INTO halts (subtree, seq, height, halted_at, resumed_at, signatures, evidence) VALUES (?, ?, ?, ?, NULL, '[]', ?)",
    args: [subtree, seq, head, now, evidence],
  });
  await tx.execute({ sql: "UPDATE subtrees SET status = 'halted' WHERE id = ?", args: [subtree] });
  return seq;
}

function haltFromRow(r: unknown[]): Halt {
  return {
    subtree: String(r[0]),
    seq: num(r[1]),
    height: num(r[2]),
    haltedAt: num(r[3]),
    resumedAt: r[4] === null ? null : num(r[4]),
    signatures: JSON.parse(String(r[5])) as HaltSignature[],
    evidence: r[6] == null ? null : String(r[6]),
  };
}

/** The subtree's most recent halt (lifted or not), if it ever halted. */
export async function latestHalt(db: Database, subtree: string): Promise<Halt | undefined> {
  const rs = await db.read.execute({
    sql: 'SELECT subtree, seq, height, halted_at, resumed_at, signatures, evidence FROM halts WHERE subtree = ? ORDER BY seq DESC LIMIT 1',
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
      sql: 'SELECT subtree, seq, height, halted_at, resumed_at, signatures, evidence FROM halts WHERE subtree = ? AND seq = ?',
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
