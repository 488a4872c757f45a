import { fail } from './errors.ts';
import { isHex32 } from './hex.ts';
import type { JsonValue } from './jcs.ts';
import { callArgs } from './programs/common.ts';
import type { ProgramResult, ProgramTx, StateView } from './programs/types.ts';

/**
 * Node system calls: transactions the node itself writes into a subtree's log, for every program
 * and every mode. Call names starting with `sys_` are reserved for them; the executor routes them
 * here before any program sees them, and only the subtree's *host key* may send them.
 *
 * The host key is the proposer of the subtree's genesis round (round 0): the node key that created
 * the subtree. Replay takes it from the published round 0 header, so a replay of the log alone
 * reproduces every write these calls make.
 *
 * `sys_child {child, root, height, round}` records a nested subtree's latest final round in its
 * parent's state under `sys/child/<child>` = `{root, height, round}` — the same value the global
 * tree holds for a top-level subtree. Heads only move forward: a head not above the stored one
 * fails (`stale_child_head`), so a late duplicate can never roll the entry back.
 */

export const SYS_CALL_PREFIX = 'sys_';
export const SYS_CHILD = 'sys_child';
const CHILD_PREFIX = 'sys/child/';

export function isNodeCall(call: string): boolean {
  return call.startsWith(SYS_CALL_PREFIX);
}

/** The parent's state key holding child `childId`'s latest final round. */
export function childKey(childId: string): string {
  return CHILD_PREFIX + childId;
}

export interface ChildHead {
  child: string;
  root: string;
  height: number;
  round: string;
}

/** Accept/replay-time shape check of a node call; throws `unknown_call` / `invalid_args`. */
export function checkNodeCall(call: string, args: Record<string, JsonValue>): void {
  if (call !== SYS_CHILD) fail('unknown_call', `"${call}" is not a node system call`, { call });
  parseChildHead(args);
}

export function parseChildHead(args: Record<string, JsonValue>): ChildHead {
  const a = callArgs(args, SYS_CHILD, ['child', 'root', 'height', 'round']);
  for (const f of ['child', 'root', 'round'] as const) {
    if (!isHex32(a[f])) fail('invalid_args', `${SYS_CHILD}.args.${f} must be 64 lowercase hex characters`, { field: `args.${f}` });
  }
  if (typeof a.height !== 'number' || !Number.isSafeInteger(a.height) || a.height < 0) {
    fail('invalid_args', `${SYS_CHILD}.args.height must be a non-negative integer`, { field: 'args.height' });
  }
  return { child: a.child as string, root: a.root as string, height: a.height, round: a.round as string };
}

/** The runner the executor uses for `sys_*` calls (same shape as a program's). */
export interface NodeCalls {
  checkCall(call: string, args: Record<string, JsonValue>): void;
  reads(tx: ProgramTx): string[];
  apply(state: StateView, tx: ProgramTx): ProgramResult;
  mayWrite(key: string): boolean;
}

/**
 * Node calls of one subtree. `host` is the key allowed to send them (round 0's proposer); without
 * one (an old caller, a replay given no genesis header) every node call fails `unauthorized`, which
 * replay then reports as a root mismatch rather than silently agreeing.
 */
export function nodeCalls(host: string | undefined): NodeCalls {
  return {
    checkCall: checkNodeCall,
    reads: (tx) => [childKey(parseChildHead(tx.args).child)],
    mayWrite: (key) => key.startsWith(CHILD_PREFIX),
    apply(state, tx) {
      if (host === undefined || tx.sender !== host) return { ok: false, code: 'unauthorized' };
      const head = parseChildHead(tx.args);
      const key = childKey(head.child);
      const stored = state.get(key);
      const storedHeight = stored !== null && typeof stored === 'object' && !Array.isArray(stored) ? stored.height : undefined;
      if (typeof storedHeight === 'number' && storedHeight >= head.height) return { ok: false, code: 'stale_child_head' };
      const value: JsonValue = { root: head.root, height: head.height, round: head.round };
      return { ok: true, writes: new Map([[key, value]]) };
    },
  };
}
