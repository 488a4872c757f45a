import type { Database, Executor } from './database.ts';
import { num } from './sql.ts';
import { appendGroup, type AcceptItem, type AcceptResult } from './tx-log.ts';

/**
 * Nested subtrees' heads travelling into their parents' logs as `sys_child` transactions (see
 * core/system-calls.ts and services/child-roots.ts). SQL only: which nested subtrees exist, and
 * the check-then-append of one node call in a single write transaction.
 */

const ROOT_ID_HEX = '0'.repeat(64);

/** A nested subtree's current final head, with its parent. */
export interface NestedHead {
  child: string;
  parent: string;
  height: number;
  root: string;
  round: string;
}

/**
 * Every nested subtree whose parent is active (a halted parent accepts no transactions). Runs each
 * leader pass: `parent > <root id>` (the root id is the smallest hex string) is a range on the
 * (parent, id) index, so a node with only top-level subtrees reads no rows.
 */
export async function nestedHeads(db: Database): Promise<NestedHead[]> {
  const rs = await db.read.execute({
    sql: `SELECT c.id, c.parent, c.height, c.root, c.head_hash FROM subtrees c JOIN subtrees p ON p.id = c.parent
          WHERE c.parent > ? AND p.status = 'active'`,
    args: [ROOT_ID_HEX],
  });
  return rs.rows.map((r) => ({ child: String(r[0]), parent: String(r[1]), height: num(r[2]), root: String(r[3]), round: String(r[4]) }));
}

export type AppendChildHeadResult =
  /** A `sys_child` for this child still waits in the parent's log: it will be reflected first. */
  | { status: 'pending' }
  /** The last `sys_child` for this child executed with this head (or a later one) already. */
  | { status: 'carried' }
  | { status: 'unknown_subtree' }
  | { status: 'appended'; head: NestedHead; result: AcceptResult };

/**
 * The latest `sys_child` for `child` from `sender` in `parent`'s log that did not fail (backwards
 * along the unique (subtree, sender, nonce) index): pending → wait for it; at `height` or above →
 * already carried (by this pass or another instance's); else null.
 */
async function priorCall(ex: Executor, parent: string, sender: string, child: string, height: number): Promise<'pending' | 'carried' | null> {
  const prior = await ex.execute({
    sql: `SELECT status, json_extract(body, '$.tx.args.height') FROM txs
          WHERE subtree = ? AND sender = ? AND status != 'failed'
            AND json_extract(body, '$.tx.call') = 'sys_child' AND json_extract(body, '$.tx.args.child') = ?
          ORDER BY nonce DESC LIMIT 1`,
    args: [parent, sender, child],
  });
  const p = prior.rows[0];
  if (p && String(p[0]) === 'pending') return 'pending';
  if (p && num(p[1]) >= height) return 'carried';
  return null;
}

/**
 * Unless a `sys_child` for `child` is pending in its parent's log, or the last one executed
 * already carried this head, append the node call `makeTx(nonce, head)` builds for the child's
 * head as it is now, with the next nonce of `sender` in the parent — in ONE write transaction that
 * checks again and reads the nonce under the write lock, so node calls cannot race for it. A
 * read answers first when nothing is to be done (a parent waiting for co-signers costs no write
 * lock each pass). At most one such call per (parent, child) is ever pending: heads coalesce.
 */
export async function appendChildHead(
  db: Database,
  input: { seen: NestedHead; sender: string; now: number; makeTx: (nonce: number, head: NestedHead) => Promise<AcceptItem> },
): Promise<AppendChildHeadResult> {
  const early = await priorCall(db.read, input.seen.parent, input.sender, input.seen.child, input.seen.height);
  if (early) return { status: early };
  return db.write(async (tx) => {
    const c = await tx.execute({ sql: 'SELECT id, parent, height, root, head_hash FROM subtrees WHERE id = ?', args: [input.seen.child] });
    const r = c.rows[0];
    if (!r) return { status: 'unknown_subtree' };
    const head: NestedHead = { child: String(r[0]), parent: String(r[1]), height: num(r[2]), root: String(r[3]), round: String(r[4]) };
    const prior = await priorCall(tx, head.parent, input.sender, head.child, head.height);
    if (prior) return { status: prior };
    const last = await tx.execute({ sql: 'SELECT max(nonce) FROM txs WHERE subtree = ? AND sender = ?', args: [head.parent, input.sender] });
    const nonce = last.rows[0]?.[0] == null ? 0 : num(last.rows[0][0]) + 1;
    const item = await input.makeTx(nonce, head);
    const [result] = await appendGroup(tx, [item], input.now);
    return { status: 'appended', head, result: result! };
  });
}
