import type { Database } from './database.ts';
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
 * In ONE write transaction: unless a `sys_child` for `child` is pending in its parent's log, or the
 * last one executed already carried this head, read the child's head as it is now and append the node call `makeTx(nonce, head)` builds, with the next
 * nonce of `sender` in the parent (read under the write lock, so node calls cannot race for it).
 * At most one such call per (parent, child) is ever pending: heads coalesce.
 */
export async function appendChildHead(
  db: Database,
  input: { child: string; sender: string; now: number; makeTx: (nonce: number, head: NestedHead) => Promise<AcceptItem> },
): Promise<AppendChildHeadResult> {
  return db.write(async (tx) => {
    const c = await tx.execute({ sql: 'SELECT id, parent, height, root, head_hash FROM subtrees WHERE id = ?', args: [input.child] });
    const r = c.rows[0];
    if (!r) return { status: 'unknown_subtree' };
    const head: NestedHead = { child: String(r[0]), parent: String(r[1]), height: num(r[2]), root: String(r[3]), round: String(r[4]) };
    // The latest of these calls for this child that did not fail (backwards along the unique
    // (subtree, sender, nonce) index): pending → wait for it; already at this head → nothing to do
    // (another instance's pass, or this one's, carried it).
    const prior = await tx.execute({
      sql: `SELECT status, json_extract(body, '$.tx.args.height') FROM txs
            WHERE subtree = ? AND sender = ? AND status != 'failed'
              AND json_extract(body, '$.tx.call') = 'sys_child' AND json_extract(body, '$.tx.args.child') = ?
            ORDER BY nonce DESC LIMIT 1`,
      args: [head.parent, input.sender, head.child],
    });
    const p = prior.rows[0];
    if (p && String(p[0]) === 'pending') return { status: 'pending' };
    if (p && num(p[1]) >= head.height) return { status: 'carried' };
    const last = await tx.execute({ sql: 'SELECT max(nonce) FROM txs WHERE subtree = ? AND sender = ?', args: [head.parent, input.sender] });
    const nonce = last.rows[0]?.[0] == null ? 0 : num(last.rows[0][0]) + 1;
    const item = await input.makeTx(nonce, head);
    const [result] = await appendGroup(tx, [item], input.now);
    return { status: 'appended', head, result: result! };
  });
}
