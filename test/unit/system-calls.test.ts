import { describe, expect, test } from 'bun:test';
import { executeRound, loadedState, planReads } from '../../src/core/execute.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { kv } from '../../src/core/programs/kv.ts';
import type { Receipt } from '../../src/core/receipt.ts';
import { childKey } from '../../src/core/system-calls.ts';
import type { Tx } from '../../src/core/tx.ts';
import { alice, bob, identified, makeTx } from './core-fixtures.ts';

/**
 * Node calls (core/system-calls.ts): `sys_child` writes `sys/child/<child>` in any program's
 * subtree, only when sent by the host key, only forward; everyone else's `sys_*` fails.
 */
const host = alice;
const C = 'cd'.repeat(32);
const head = (height: number, root = '11'.repeat(32)) => ({ child: C, root, height, round: '22'.repeat(32) });
const codeOf = (r: Receipt) => (r.status === 'failed' ? r.code : 'ok');
const cfg = kv.parseConfig({ writers: 'any' });

function run(state: ReadonlyMap<string, JsonValue>, txs: Tx[], hostArg: string | null = host.key) {
  const hostKey = hostArg ?? undefined;
  const ids = txs.map(identified);
  const planned = planReads(kv, cfg, ids, undefined, hostKey);
  const out = executeRound({ program: kv, config: cfg, txs: ids, state: loadedState(new Map(planned.map((k) => [k, state.get(k)]))), ...(hostKey ? { host: hostKey } : {}) });
  return { ...out, planned };
}

describe('sys_child', () => {
  test('the host writes {root, height, round} under sys/child/<child>, declared as a read', () => {
    const out = run(new Map(), [makeTx(host, 0, 'sys_child', head(0))]);
    expect(out.planned).toContain(childKey(C));
    expect(out.receipts[0]!.status).toBe('ok');
    expect(out.writes.get(`sys/child/${C}`)).toEqual({ root: '11'.repeat(32), height: 0, round: '22'.repeat(32) });
  });

  test('heads only move forward: the same or a lower height fails stale_child_head', () => {
    const state = new Map<string, JsonValue>([[childKey(C), { root: '33'.repeat(32), height: 5, round: '44'.repeat(32) }]]);
    const out = run(state, [makeTx(host, 0, 'sys_child', head(5)), makeTx(host, 1, 'sys_child', head(4)), makeTx(host, 2, 'sys_child', head(6))]);
    expect(out.receipts.map(codeOf)).toEqual(['stale_child_head', 'stale_child_head', 'ok']);
    expect((out.writes.get(childKey(C)) as { height: number }).height).toBe(6);
  });

  test('anyone but the host (or any sender without a known host) fails unauthorized and writes nothing under sys/child', () => {
    for (const out of [run(new Map(), [makeTx(bob, 0, 'sys_child', head(1))]), run(new Map(), [makeTx(host, 0, 'sys_child', head(1))], null)]) {
      expect(codeOf(out.receipts[0]!)).toBe('unauthorized');
      expect([...out.writes.keys()].filter((k) => k.startsWith('sys/child/'))).toEqual([]);
    }
  });

  test('malformed args and unknown sys_* names fail before running; the nonce is still consumed', () => {
    const out = run(new Map(), [
      makeTx(host, 0, 'sys_child', { ...head(1), height: -1 }),
      makeTx(host, 1, 'sys_child', { ...head(1), root: 'AB'.repeat(32) }),
      makeTx(host, 2, 'sys_anything', {}),
    ]);
    expect(out.receipts.map(codeOf)).toEqual(['invalid_args', 'invalid_args', 'unknown_call']);
    expect(out.writes.get(`sys/nonce/${host.key}`)).toBe(3);
  });
});
