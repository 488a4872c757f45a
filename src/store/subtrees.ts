import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import { asJson, type JsonValue } from '../core/jcs.ts';
import type { SubtreeSpec } from '../core/subtree-request.ts';
import type { StoredValue } from '../core/smt/tree.ts';
import type { Database } from './database.ts';
import { insertEvents, type NewEvent } from './events.ts';
import type { NewNodes } from '../core/smt/node-store.ts';
import { preparedReads } from './prepared-reads.ts';
import { insertFinalRound } from './rounds.ts';
import { subtrees, type RoundSignature, type SubtreeStatus } from './schema.ts';
import { tableRows } from './table-rows.ts';

export type Subtree = typeof subtrees.$inferSelect;

/** The creation facts of a subtree; its head (height 0, root, head hash, log size 0) comes from the genesis round. */
export interface NewSubtree {
  id: string;
  parent: string;
  owner: string;
  name: string;
  program: string;
  config: JsonValue;
  mode: JsonValue;
  /** The full signed creation body. */
  request: JsonValue;
  createdAt: number;
  status?: SubtreeStatus;
}

/** A subtree's row from its parsed creation spec and the signed creation body, as hosted or followed. */
export function newSubtreeRow(id: string, spec: SubtreeSpec, request: JsonValue, createdAt: number): NewSubtree {
  return { id, parent: spec.parent, owner: spec.owner, name: spec.name, program: spec.program, config: spec.config, mode: asJson(spec.mode), request, createdAt };
}

/** Round 0 (SPEC §8): prev = zero hash, no transactions, the genesis state's root. */
export interface GenesisRound {
  hash: string;
  header: JsonValue;
  signatures: RoundSignature[];
  stateRoot: string;
}

/** Round 0 of `subtree` as a final round to store. */
export function genesisOf(subtree: string, g: GenesisRound) {
  return { subtree, height: 0, hash: g.hash, header: g.header, signatures: g.signatures, txIds: [], stateRoot: g.stateRoot };
}

export type CreateSubtreeResult = { status: 'created'; subtree: Subtree } | { status: 'exists'; subtree: Subtree };

/**
 * Creates a subtree with its genesis round, tree nodes, values and events in ONE write
 * transaction. If the id exists already nothing is written and the existing row comes back
 * (`exists`), so the caller can tell a repeated request from a conflicting one.
 */
export async function createSubtree(
  db: Database,
  input: {
    row: NewSubtree;
    genesisRound: GenesisRound;
    nodes: NewNodes;
    values: readonly StoredValue[];
    events?: readonly NewEvent[];
  },
): Promise<CreateSubtreeResult> {
  const { row, genesisRound: g } = input;
  return db.write(async (tx) => {
    const orm = db.ormFor(tx);
    const inserted = await orm
      .insert(subtrees)
      .values({
        ...row,
        status: row.status ?? 'active',
        height: 0,
        root: g.stateRoot,
        headHash: g.hash,
        logSize: 0,
      })
      .onConflictDoNothing()
      .returning();
    if (inserted.length === 0) {
      const existing = await orm.select().from(subtrees).where(eq(subtrees.id, row.id));
      return { status: 'exists', subtree: existing[0]! };
    }
    await insertFinalRound(db, tx, { ...genesisOf(row.id, g), nodes: input.nodes, values: input.values, createdAt: row.createdAt });
    if (input.events?.length) await insertEvents(tx, input.events, row.createdAt);
    return { status: 'created', subtree: inserted[0]! };
  });
}

const subtreeRows = tableRows(subtrees);
const SUBTREE_BY_ID = `${subtreeRows.select} WHERE "id" = ?`;

export async function getSubtree(db: Database, id: string): Promise<Subtree | undefined> {
  // Read by the leader every round and by most API verbs: the cached prepared statement where there is one.
  const fast = preparedReads(db);
  if (fast) {
    const r = fast.get(SUBTREE_BY_ID, [id]);
    return r ? subtreeRows.row(r) : undefined;
  }
  const rows = await db.orm.select().from(subtrees).where(eq(subtrees.id, id));
  return rows[0];
}

export interface Page<T, C> {
  items: T[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  next: C | null;
}

/** Subtrees in id order (keyset paging), optionally only the children of `parent`. */
export async function listSubtrees(
  db: Database,
  opts: { cursor?: string; limit: number; parent?: string },
): Promise<Page<Subtree, string>> {
  const where: SQL[] = [];
  if (opts.cursor !== undefined) where.push(gt(subtrees.id, opts.cursor));
  if (opts.parent !== undefined) where.push(eq(subtrees.parent, opts.parent));
  const items = await db.orm
    .select()
    .from(subtrees)
    .where(and(...where))
    .orderBy(asc(subtrees.id))
    .limit(opts.limit + 1);
  const more = items.length > opts.limit;
  if (more) items.pop();
  return { items, next: more ? items[items.length - 1]!.id : null };
}

/** Halts or resumes a subtree (halted subtrees refuse new transactions). Returns false if unknown. */
export async function setSubtreeStatus(db: Database, id: string, status: SubtreeStatus): Promise<boolean> {
  const rows = await db.write((tx) =>
    db.ormFor(tx).update(subtrees).set({ status }).where(eq(subtrees.id, id)).returning({ id: subtrees.id }),
  );
  return rows.length === 1;
}
