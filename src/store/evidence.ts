import type { JsonValue } from '../core/jcs.ts';
import type { Database } from './database.ts';
import { num } from './sql.ts';
import { appendGroup, type AcceptItem, type AcceptResult } from './tx-log.ts';
import { insertEvents } from './events.ts';
import { insertHalt } from './halts.ts';

/**
 * Equivocation evidence (pos) and the slash transaction it becomes. Evidence is recorded together
 * with the transaction that carries it into the subtree's log, in one write transaction: either
 * both exist or neither, so a replayed submission is recognised and never appends a second slash.
 */

export interface EvidenceRow {
  id: string;
  subtree: string;
  validator: string;
  height: number;
  body: JsonValue;
  /** The slash transaction's id. */
  tx: string;
  createdAt: number;
}

export type RecordEvidenceResult =
  | { status: 'recorded'; row: EvidenceRow; accept: AcceptResult }
  /** The same evidence (same id) was recorded before. */
  | { status: 'known'; row: EvidenceRow }
  /** Other evidence against the same validator was recorded before: it is slashed once. */
  | { status: 'already_slashed'; row: EvidenceRow }
  /** The log refused the slash transaction (unknown or halted subtree). */
  | { status: 'refused'; accept: AcceptResult };

function rowOf(r: unknown[]): EvidenceRow {
  return {
    id: String(r[0]),
    subtree: String(r[1]),
    validator: String(r[2]),
    height: num(r[3]),
    body: JSON.parse(String(r[4])) as JsonValue,
    tx: String(r[5]),
    createdAt: num(r[6]),
  };
}

const COLUMNS = 'id, subtree, validator, height, body, tx, created_at';

export async function getEvidence(db: Database, id: string): Promise<EvidenceRow | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${COLUMNS} FROM evidence WHERE id = ?`, args: [id] });
  return rs.rows[0] ? rowOf(rs.rows[0] as unknown as unknown[]) : undefined;
}

/** Evidence recorded against a validator of a subtree (at most one: it is slashed once). */
export async function evidenceAgainst(db: Database, subtree: string, validator: string): Promise<EvidenceRow | undefined> {
  const rs = await db.read.execute({ sql: `SELECT ${COLUMNS} FROM evidence WHERE subtree = ? AND validator = ?`, args: [subtree, validator] });
  return rs.rows[0] ? rowOf(rs.rows[0] as unknown as unknown[]) : undefined;
}

/**
 * Records evidence and appends its slash transaction in ONE write transaction. `makeTx` receives
 * the next nonce of `sender` in the subtree, read under the write lock (so concurrent submissions
 * cannot race for a nonce), and returns the signed transaction to append.
 */
export async function recordEvidence(
  db: Database,
  input: {
    id: string;
    subtree: string;
    validator: string;
    height: number;
    body: JsonValue;
    sender: string;
    makeTx: (nonce: number) => Promise<AcceptItem>;
    now: number;
  },
): Promise<RecordEvidenceResult> {
  return db.write(async (tx) => {
    const same = await tx.execute({ sql: `SELECT ${COLUMNS} FROM evidence WHERE id = ?`, args: [input.id] });
    if (same.rows[0]) return { status: 'known', row: rowOf(same.rows[0] as unknown as unknown[]) };
    const other = await tx.execute({ sql: `SELECT ${COLUMNS} FROM evidence WHERE subtree = ? AND validator = ?`, args: [input.subtree, input.validator] });
    if (other.rows[0]) return { status: 'already_slashed', row: rowOf(other.rows[0] as unknown as unknown[]) };
    const last = await tx.execute({ sql: 'SELECT max(nonce) FROM txs WHERE subtree = ? AND sender = ?', args: [input.subtree, input.sender] });
    const nonce = last.rows[0]?.[0] == null ? 0 : num(last.rows[0][0]) + 1;
    const item = await input.makeTx(nonce);
    const [accept] = await appendGroup(tx, [item], input.now);
    if (!accept || (accept.status !== 'accepted' && accept.status !== 'known')) return { status: 'refused', accept: accept! };
    const row: EvidenceRow = {
      id: input.id,
      subtree: input.subtree,
      validator: input.validator,
      height: input.height,
      body: input.body,
      tx: item.id,
      createdAt: input.now,
    };
    await tx.execute({
      sql: `INSERT INTO evidence (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      args: [row.id, row.subtree, row.validator, row.height, JSON.stringify(row.body), row.tx, row.createdAt],
    });
    return { status: 'recorded', row, accept };
  });
}

export interface MultisigEvidenceRow {
  id: string;
  subtree: string;
  signer: string;
  height: number;
  body: JsonValue;
  createdAt: number;
  /** The halt it caused. */
  halt: number;
}

const MS_COLUMNS = 'e.id, e.subtree, e.signer, e.height, e.body, e.created_at, (SELECT seq FROM halts h WHERE h.subtree = e.subtree AND h.evidence = e.id)';

function msRow(r: unknown[]): MultisigEvidenceRow {
  return { id: String(r[0]), subtree: String(r[1]), signer: String(r[2]), height: num(r[3]), body: JSON.parse(String(r[4])) as JsonValue, createdAt: num(r[5]), halt: num(r[6]) };
}

/**
 * Records multisig equivocation evidence and halts the subtree in ONE write transaction (a halt
 * row naming the evidence, status `halted`, a `subtree.halted` event naming the signer). The same
 * evidence again changes nothing and returns the recorded row.
 */
export async function recordMultisigEvidence(
  db: Database,
  input: { id: string; subtree: string; signer: string; height: number; body: JsonValue; now: number },
): Promise<{ status: 'recorded' | 'known'; row: MultisigEvidenceRow }> {
  return db.write(async (tx) => {
    const same = await tx.execute({ sql: `SELECT ${MS_COLUMNS} FROM multisig_evidence e WHERE e.id = ?`, args: [input.id] });
    if (same.rows[0]) return { status: 'known', row: msRow(same.rows[0] as unknown as unknown[]) };
    await tx.execute({
      sql: 'INSERT INTO multisig_evidence (id, subtree, signer, height, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      args: [input.id, input.subtree, input.signer, input.height, JSON.stringify(input.body), input.now],
    });
    const halt = await insertHalt(tx, input.subtree, input.now, input.id);
    const head = await tx.execute({ sql: 'SELECT height FROM subtrees WHERE id = ?', args: [input.subtree] });
    const data = { subtree: input.subtree, height: num(head.rows[0]![0]), halt, evidence: input.id, signer: input.signer };
    await insertEvents(tx, [{ type: 'subtree.halted', subtree: input.subtree, data }], input.now);
    return { status: 'recorded', row: { id: input.id, subtree: input.subtree, signer: input.signer, height: input.height, body: input.body, createdAt: input.now, halt } };
  });
}
