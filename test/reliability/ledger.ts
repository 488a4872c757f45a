/**
 * Invariants of one subtree's log and rounds, checked from the database file after a fault. Each
 * check returns a list of human-readable problems (empty = holds), so a failing test names every
 * broken fact at once instead of the first.
 */
import { digest } from '../../src/core/digest.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { verifyDigest } from '../../src/core/keys.ts';
import { replay } from '../../src/core/replay.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { roundHash, type RoundHeader } from '../../src/core/round.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import type { LogRow, RoundRow } from './harness.ts';

const ZERO32 = '0'.repeat(64);

/** What the node answered with 202/200: the id, its signed acceptance and the signature. */
export interface Ack {
  id: string;
  sender: string;
  nonce: number;
  status: number;
  accept: { v: number; network: string; tx: string; subtree: string; seq: number; time: number };
  sig: string;
}

/** seq 0..N-1 without gaps or duplicates, log_size = N, nonces per sender 0..k-1 in log order. */
export function checkLogShape(log: readonly LogRow[], logSize: number): string[] {
  const p: string[] = [];
  log.forEach((t, i) => {
    if (t.seq !== i) p.push(`log position ${i} holds seq ${t.seq}`);
  });
  if (logSize !== log.length) p.push(`subtree log_size ${logSize} but ${log.length} rows`);
  if (new Set(log.map((t) => t.id)).size !== log.length) p.push('a transaction id appears twice in the log');
  const nextNonce = new Map<string, number>();
  for (const t of log) {
    const want = nextNonce.get(t.sender) ?? 0;
    if (t.nonce !== want) p.push(`sender ${t.sender.slice(0, 20)}… seq ${t.seq}: nonce ${t.nonce}, expected ${want}`);
    nextNonce.set(t.sender, t.nonce + 1);
  }
  return p;
}

/**
 * Rounds: heights 0..H contiguous (one round per height), the head points at H, every header hash
 * and node signature verifies and links to its predecessor, and the rounds' tx lists together are
 * exactly the executed part of the log, in log order, each id once, matching each tx's height/idx.
 */
export function checkRounds(
  rounds: readonly RoundRow[],
  log: readonly LogRow[],
  o: { subtree: string; nodeKey: string; headHeight: number },
): string[] {
  const p: string[] = [];
  rounds.forEach((r, i) => {
    if (r.height !== i) p.push(`round position ${i} has height ${r.height}`);
  });
  if (o.headHeight !== rounds.length - 1) p.push(`subtree head height ${o.headHeight}, rounds 0..${rounds.length - 1}`);
  let prev = ZERO32;
  for (const r of rounds) {
    const h = r.header as unknown as RoundHeader;
    if (r.status !== 'final') p.push(`round ${r.height} is ${r.status}`);
    if (h.height !== r.height) p.push(`round ${r.height}: header.height ${h.height}`);
    if (h.subtree !== o.subtree) p.push(`round ${r.height}: header.subtree ${h.subtree}`);
    if (h.prev !== prev) p.push(`round ${r.height}: prev ${h.prev.slice(0, 12)} is not the hash of round ${r.height - 1}`);
    if (h.txCount !== r.txIds.length) p.push(`round ${r.height}: txCount ${h.txCount} but ${r.txIds.length} ids`);
    const hash = roundHash(h);
    if (toHex(hash) !== r.hash) p.push(`round ${r.height}: stored hash is not digest("round", header)`);
    const mine = r.signatures.filter((s) => s.signer === o.nodeKey);
    if (mine.length !== 1 || !verifyDigest(o.nodeKey, hash, mine[0]!.sig)) p.push(`round ${r.height}: no valid node signature`);
    prev = r.hash;
  }

  const position = new Map<string, { height: number; idx: number }>();
  const executedOrder: string[] = [];
  for (const r of rounds) {
    if (r.height === 0 && r.txIds.length > 0) p.push('genesis round lists transactions');
    r.txIds.forEach((id, idx) => {
      if (position.has(id)) p.push(`tx ${id.slice(0, 12)} is in round ${position.get(id)!.height} and round ${r.height}`);
      position.set(id, { height: r.height, idx });
      executedOrder.push(id);
    });
  }
  const done = log.filter((t) => t.status !== 'pending');
  // Rounds execute a prefix of the log: every executed tx precedes every pending one.
  const firstPending = log.findIndex((t) => t.status === 'pending');
  if (firstPending !== -1 && done.some((t) => t.seq > firstPending)) p.push(`an executed tx follows pending seq ${firstPending}`);
  if (executedOrder.length !== done.length || executedOrder.some((id, i) => done[i]!.id !== id)) {
    p.push(`round tx lists (${executedOrder.length} ids) are not the executed log prefix (${done.length} txs) in seq order`);
  }
  for (const t of log) {
    const at = position.get(t.id);
    if (t.status === 'pending') {
      if (at) p.push(`tx seq ${t.seq} is pending but listed in round ${at.height}`);
      continue;
    }
    if (!at) p.push(`tx seq ${t.seq} is ${t.status} but in no round`);
    else if (t.height !== at.height || t.idx !== at.idx) {
      p.push(`tx seq ${t.seq}: row says height ${t.height}/idx ${t.idx}, round lists it at ${at.height}/${at.idx}`);
    }
  }
  return p;
}

/** Every acknowledged tx is in the log at its acknowledged seq, and its acceptance is signed by the node. */
export function checkAcks(acks: readonly Ack[], log: readonly LogRow[], o: { subtree: string; nodeKey: string; network: string }): string[] {
  const p: string[] = [];
  const byId = new Map(log.map((t) => [t.id, t]));
  for (const a of acks) {
    const t = byId.get(a.id);
    if (!t) {
      p.push(`acknowledged tx ${a.id.slice(0, 12)} (${a.status}) is not in the log`);
      continue;
    }
    if (a.accept.tx !== a.id || a.accept.subtree !== o.subtree || a.accept.network !== o.network || a.accept.v !== 1) {
      p.push(`acceptance of ${a.id.slice(0, 12)} names other fields: ${JSON.stringify(a.accept)}`);
    }
    if (a.accept.seq !== t.seq) p.push(`tx ${a.id.slice(0, 12)} acknowledged at seq ${a.accept.seq}, logged at ${t.seq}`);
    if (t.sender !== a.sender || t.nonce !== a.nonce) p.push(`tx ${a.id.slice(0, 12)}: logged sender/nonce differ`);
    if (!verifyDigest(o.nodeKey, digest('accept', a.accept), fromHex(a.sig, 64))) p.push(`acceptance sig of ${a.id.slice(0, 12)} does not verify`);
  }
  if (new Set(acks.map((a) => a.id)).size !== acks.length) p.push('the node acknowledged one id twice with 202');
  return p;
}

/**
 * An independent model of the token program (SPEC §7) for transfers only: executes the log in seq
 * order with bigint arithmetic. Returns the expected outcome per tx and the final balances.
 */
export function modelTransfers(
  genesis: ReadonlyMap<string, bigint>,
  log: readonly Pick<LogRow, 'id' | 'sender' | 'tx'>[],
): { balances: Map<string, bigint>; outcome: Map<string, { status: 'executed' | 'failed'; code?: string }> } {
  const balances = new Map(genesis);
  const outcome = new Map<string, { status: 'executed' | 'failed'; code?: string }>();
  for (const t of log) {
    const amount = BigInt(t.tx.args.amount);
    const have = balances.get(t.sender) ?? 0n;
    if (amount === 0n) outcome.set(t.id, { status: 'failed', code: 'invalid_amount' });
    else if (have < amount) outcome.set(t.id, { status: 'failed', code: 'insufficient_balance' });
    else {
      balances.set(t.sender, have - amount);
      balances.set(t.tx.args.to, (balances.get(t.tx.args.to) ?? 0n) + amount);
      outcome.set(t.id, { status: 'executed' });
    }
  }
  return { balances, outcome };
}

/** The log's recorded outcomes against the model's. */
export function checkOutcomes(log: readonly LogRow[], outcome: ReadonlyMap<string, { status: string; code?: string }>): string[] {
  const p: string[] = [];
  for (const t of log) {
    const want = outcome.get(t.id);
    if (!want) continue;
    if (t.status !== want.status || (t.code ?? undefined) !== want.code) {
      p.push(`tx seq ${t.seq}: ${t.status}/${t.code}, model says ${want.status}/${want.code}`);
    }
  }
  return p;
}

/**
 * SPEC §8 on the stored history: re-executes the subtree from its signed creation request and the
 * rounds' transactions (bodies from the log) in memory; returns every header field that differs.
 */
export async function replayMismatches(request: unknown, rounds: readonly RoundRow[], log: readonly LogRow[]): Promise<string[]> {
  const byId = new Map(log.map((t) => [t.id, t.tx]));
  const result = await replay({
    store: new MemoryNodeStore(),
    subtree: parseSubtreeRequest(request, NATIVE_PROGRAMS).subtree,
    genesis: rounds[0]!.header as unknown as RoundHeader,
    rounds: rounds.slice(1).map((r) => ({ header: r.header as unknown as RoundHeader, txs: r.txIds.map((id) => ({ id, tx: byId.get(id)! })) })),
  });
  const p = result.mismatches.map((m) => `height ${m.height} ${m.field}: replay ${m.expected}, stored ${String(m.got)}`);
  if (result.rounds.length !== rounds.length) p.push(`replayed ${result.rounds.length} rounds of ${rounds.length}`);
  return p;
}
