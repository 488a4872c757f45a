import { and, asc, eq, gt } from 'drizzle-orm';
import type { JsonValue } from '../core/jcs.ts';
import { NO_NEW_NODES, type NewNodes } from '../core/smt/node-store.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { Database } from './database.ts';
import { StaleRoundError, StoreError } from './errors.ts';
import type { NewEvent } from './events.ts';
import { assertLease, type LeaseClaim } from './lease.ts';
import { insertNodes, insertValues } from './node-store.ts';
import { assertHead, assertNextPending, writeFinalRound, type RoundReceipt } from './rounds.ts';
import { preparedReads } from './prepared-reads.ts';
import { proposals, type RoundSignature } from './schema.ts';
import { tableRows } from './table-rows.ts';
import type { Page } from './subtrees.ts';

export type Proposal = typeof proposals.$inferSelect;

export interface NewProposal {
  hash: string;
  subtree: string;
  height: number;
  header: JsonValue;
  txIds: string[];
  receipts: RoundReceipt[];
  stateRoot: string;
  /** Signatures known at proposal time (e.g. the proposer's own, in multisig). */
  signatures: RoundSignature[];
  /** Tree nodes and values of the proposed state; content-addressed, harmless if never finalized. */
  nodes: NewNodes;
  values: readonly StoredValue[];
  lease: LeaseClaim;
  now: number;
}

/**
 * Stores a proposal in one write transaction, behind the leader's lease, the subtree head
 * (height - 1) and the log (its txs are the next pending ones). The partial unique index keeps
 * at most one open proposal per subtree: a second one is a StaleRoundError.
 */
export async function insertProposal(db: Database, p: NewProposal): Promise<void> {
  await db.write(async (tx) => {
    await assertLease(tx, p.lease, p.now);
    await assertHead(tx, p.subtree, p.height);
    await assertNextPending(tx, p.subtree, p.txIds);
    const open = await tx.execute({ sql: "SELECT hash FROM proposals WHERE subtree = ? AND status = 'open'", args: [p.subtree] });
    if (open.rows.length > 0) throw new StaleRoundError(`subtree ${p.subtree} already has an open proposal`);
    await insertNodes(tx, p.nodes);
    await insertValues(tx, p.values);
    await db.ormFor(tx).insert(proposals).values({
      hash: p.hash,
      subtree: p.subtree,
      height: p.height,
      header: p.header,
      txIds: p.txIds,
      receipts: p.receipts as unknown as JsonValue,
      stateRoot: p.stateRoot,
      signatures: p.signatures,
      status: 'open',
      createdAt: p.now,
    });
  });
}

const proposalRows = tableRows(proposals);
const OPEN_PROPOSAL = `${proposalRows.select} WHERE "subtree" = ? AND "status" = 'open'`;

export async function getOpenProposal(db: Database, subtree: string): Promise<Proposal | undefined> {
  // Read by the leader every round (prepared-reads.ts where the database has the connection).
  const fast = preparedReads(db);
  if (fast) {
    const r = fast.get(OPEN_PROPOSAL, [subtree]);
    return r ? proposalRows.row(r) : undefined;
  }
  const rows = await db.orm
    .select()
    .from(proposals)
    .where(and(eq(proposals.subtree, subtree), eq(proposals.status, 'open')));
  return rows[0];
}

/** Every proposal ever made at one height of a subtree (expired ones, then the open or final one). */
export async function proposalsAt(db: Database, subtree: string, height: number): Promise<Proposal[]> {
  return db.orm
    .select()
    .from(proposals)
    .where(and(eq(proposals.subtree, subtree), eq(proposals.height, height)))
    .orderBy(asc(proposals.createdAt));
}

/** Proposals of a subtree by height (all statuses unless `status` is given), keyset-paged by hash order within height. */
export async function listProposals(
  db: Database,
  subtree: string,
  opts: { status?: Proposal['status']; cursor?: number; limit: number },
): Promise<Page<Proposal, number>> {
  const where = [eq(proposals.subtree, subtree)];
  if (opts.status) where.push(eq(proposals.status, opts.status));
  if (opts.cursor !== undefined) where.push(gt(proposals.height, opts.cursor));
  const items = await db.orm
    .select()
    .from(proposals)
    .where(and(...where))
    .orderBy(asc(proposals.height), asc(proposals.createdAt))
    .limit(opts.limit + 1);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.height : null };
}

export type AddSignatureResult =
  | { status: 'duplicate'; proposal: Proposal }
  | { status: 'added'; proposal: Proposal }
  | { status: 'finalized'; proposal: Proposal };

/**
 * Adds one already-verified signature to an open proposal. When `isFinal` says the collected set
 * meets the mode's rule, the round is finalized in the SAME write transaction (round row, tx
 * outcomes, head, events): a signature is never recorded without the finality it implies.
 */
export async function addProposalSignature(
  db: Database,
  input: {
    hash: string;
    signature: RoundSignature;
    isFinal: (sigs: readonly RoundSignature[]) => boolean;
    events: readonly NewEvent[];
    now: number;
  },
): Promise<AddSignatureResult> {
  return db.write(async (tx) => {
    const orm = db.ormFor(tx);
    const row = (await orm.select().from(proposals).where(eq(proposals.hash, input.hash)))[0];
    if (!row) throw new StoreError('unknown_proposal', `no proposal ${input.hash}`);
    if (row.signatures.some((s) => s.signer === input.signature.signer)) return { status: 'duplicate', proposal: row };
    if (row.status !== 'open') throw new StoreError('proposal_closed', `proposal ${input.hash} is ${row.status}`, { status: row.status });
    const voted = await tx.execute({ sql: 'SELECT 1 FROM expiry_votes WHERE round = ? AND signer = ?', args: [input.hash, input.signature.signer] });
    if (voted.rows.length > 0) throw new StoreError('voted_expiry', `${input.signature.signer} voted to expire proposal ${input.hash}`);
    const signatures = [...row.signatures, input.signature];
    const final = input.isFinal(signatures);
    if (final) {
      await writeFinalRound(db, tx, {
        subtree: row.subtree,
        height: row.height,
        hash: row.hash,
        header: row.header,
        signatures,
        txIds: row.txIds,
        receipts: row.receipts as unknown as RoundReceipt[],
        stateRoot: row.stateRoot,
        nodes: NO_NEW_NODES,
        values: [],
        events: input.events,
        now: input.now,
      });
    }
    const status = final ? 'final' : 'open';
    await orm.update(proposals).set({ signatures, status }).where(eq(proposals.hash, row.hash));
    return { status: final ? 'finalized' : 'added', proposal: { ...row, signatures, status } };
  });
}
