import { describe, expect, test } from 'bun:test';
import { parseEvidence, verifyEvidence } from '../../src/core/consensus/evidence.ts';
import { parseMode, type PosMode } from '../../src/core/consensus/mode.ts';
import { chooseProposer, epochOf, nextEpochStart } from '../../src/core/consensus/pos.ts';
import { CONSENSUS_KEY } from '../../src/core/consensus/state.ts';
import { checkSystemCall, consensusAt, effectiveMode } from '../../src/core/consensus/system.ts';
import { isRoundFinal } from '../../src/core/consensus/signing-rules.ts';
import { digest } from '../../src/core/digest.ts';
import { sha256 } from '../../src/core/hash.ts';
import { fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { signDigest } from '../../src/core/keys.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { replay } from '../../src/core/replay.ts';
import { roundHash, type RoundHeader } from '../../src/core/round.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { MemoryValueStore, readState } from '../../src/core/state-reader.ts';
import { parseSubtreeSpec, subtreeId, type SubtreeSpec } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { txIdHex, type IdentifiedTx, type Tx } from '../../src/core/tx.ts';
import { NETWORK, party, type Party } from './core-fixtures.ts';

const va = party('validator-a');
const vb = party('validator-b');
const vc = party('validator-c', 'secp256k1');
const vd = party('validator-d', 'bip340');
const newcomer = party('validator-e');
const STAKES: [Party, bigint][] = [
  [va, 40n],
  [vb, 30n],
  [vc, 20n],
  [vd, 10n],
];
const validators = STAKES.map(([p, s]) => ({ key: p.key, stake: s.toString() }));

/** The proposer rule written out independently: big-endian uint of H(prev), mod total, cumulative walk by key. */
function referenceProposer(vals: { key: string; stake: string }[], prev: Uint8Array): string {
  const h = sha256(prev);
  let r = 0n;
  for (const byte of h) r = r * 256n + BigInt(byte);
  const sorted = vals.map((v) => ({ ...v })).sort((x, y) => (Buffer.from(x.key) < Buffer.from(y.key) ? -1 : 1));
  const total = sorted.reduce((s, v) => s + BigInt(v.stake), 0n);
  r %= total;
  for (const v of sorted) {
    if (r < BigInt(v.stake)) return v.key;
    r -= BigInt(v.stake);
  }
  throw new Error('no proposer');
}

describe('pos proposer choice', () => {
  test('follows stake over many heights (chi-squared, fixed seed sequence)', () => {
    const n = 20_000;
    const counts = new Map<string, number>(validators.map((v) => [v.key, 0]));
    for (let i = 0; i < n; i++) {
      const prev = sha256(utf8(`prev-round-${i}`));
      const p = chooseProposer(validators, prev);
      counts.set(p, counts.get(p)! + 1);
    }
    let chi2 = 0;
    for (const [p, stake] of STAKES) {
      const expected = (n * Number(stake)) / 100;
      chi2 += (counts.get(p.key)! - expected) ** 2 / expected;
    }
    // 3 degrees of freedom: P(chi2 > 16.27) = 0.001 for a fair draw.
    expect(chi2).toBeLessThan(16.27);
    // And each share is within 1.5 percentage points of the stake share.
    for (const [p, stake] of STAKES) expect(Math.abs(counts.get(p.key)! / n - Number(stake) / 100)).toBeLessThan(0.015);
  });

  test('matches an independent implementation, whatever the order of the list', () => {
    for (let i = 0; i < 500; i++) {
      const prev = sha256(utf8(`x${i}`));
      const want = referenceProposer(validators, prev);
      expect(chooseProposer(validators, prev)).toBe(want);
      expect(chooseProposer([...validators].reverse(), prev)).toBe(want);
    }
  });

  test('a lone validator always proposes; an empty stake cannot', () => {
    expect(chooseProposer([{ key: va.key, stake: '7' }], sha256(utf8('p')))).toBe(va.key);
    expect(() => chooseProposer([], sha256(utf8('p')))).toThrow();
  });

  test('epochs: heights 1..E are epoch 0; stake moved at h counts from the next epoch start', () => {
    expect([1, 2, 3, 4].map((h) => epochOf(h, 3))).toEqual([0, 0, 0, 1]);
    expect(nextEpochStart(1, 3)).toBe(4);
    expect(nextEpochStart(3, 3)).toBe(4);
    expect(nextEpochStart(4, 3)).toBe(7);
    expect(nextEpochStart(5, 1)).toBe(6);
  });
});

describe('pos finality: > 2/3 of active stake', () => {
  const mode = parseMode({ type: 'pos', validators, epochRounds: 10 });
  const h = sha256(utf8('some round'));
  const sig = (p: Party) => ({ signer: p.key, sig: toHex(signDigest(p.scheme, p.secret, h)) });
  test('70 of 100 is final; 60 and exactly 2/3 are not', () => {
    expect(isRoundFinal(mode, h, [sig(va), sig(vb)])).toBe(true);
    expect(isRoundFinal(mode, h, [sig(va), sig(vc)])).toBe(false);
    expect(isRoundFinal(mode, h, [sig(vb), sig(vc), sig(vd)])).toBe(false);
    const even = parseMode({ type: 'pos', validators: [{ key: va.key, stake: '2' }, { key: vb.key, stake: '1' }], epochRounds: 1 });
    expect(isRoundFinal(even, h, [sig(va)])).toBe(false); // 2/3 exactly
  });
});

// ---- stake, unstake and slash executed through replay (the path every node and co-signer runs) ----

function posSpec(epochRounds: number, slashBps?: number): SubtreeSpec {
  return parseSubtreeSpec({
    v: 1,
    network: NETWORK,
    parent: ROOT_ID_HEX,
    owner: va.key,
    name: 'pos-app',
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'pos', validators, epochRounds, ...(slashBps !== undefined ? { slashBps } : {}) },
    genesis: [],
  }, NATIVE_PROGRAMS);
}

function txOf(spec: SubtreeSpec, from: Party, nonce: number, call: string, args: Record<string, JsonValue>): IdentifiedTx {
  const tx: Tx = { v: 1, network: NETWORK, subtree: toHex(subtreeId(spec)), sender: from.key, nonce, call, args };
  return { id: txIdHex(tx), tx };
}

async function run(spec: SubtreeSpec, rounds: IdentifiedTx[][]) {
  const store = new MemoryNodeStore();
  const values = new MemoryValueStore();
  const result = await replay({ subtree: spec, rounds: rounds.map((txs) => ({ txs })), store, values });
  const tree = new SparseMerkleTree(store);
  const stateAfter = async (height: number) => {
    const root = fromHex(result.rounds[height]!.stateRoot, 32);
    return (await readState(tree, values, root, [CONSENSUS_KEY])).get(CONSENSUS_KEY);
  };
  return { result, stateAfter };
}

const stakeOf = (m: PosMode, p: Party) => m.validators.find((v) => v.key === p.key)?.stake;

describe('pos stake and unstake take effect at epoch boundaries', () => {
  test('unstake in epoch 0 lowers the stake from height E+1; the freed stake can be bonded to a newcomer', async () => {
    const spec = posSpec(3);
    const { result, stateAfter } = await run(spec, [
      [txOf(spec, va, 0, 'unstake', { amount: '10' })],
      [],
      [txOf(spec, va, 1, 'stake', { amount: '4', validator: newcomer.key })], // free stake exists only from height 4
      [txOf(spec, va, 2, 'stake', { amount: '4', validator: newcomer.key })],
    ]);
    expect(result.rounds[1]!.receipts[0]!.status).toBe('ok');
    expect(result.rounds[3]!.receipts[0]).toMatchObject({ status: 'failed', code: 'insufficient_stake' });
    expect(result.rounds[4]!.receipts[0]!.status).toBe('ok');
    const s1 = await stateAfter(1);
    for (const h of [2, 3]) expect(stakeOf(effectiveMode(spec.mode, s1, h) as PosMode, va)).toBe('40');
    expect(stakeOf(effectiveMode(spec.mode, s1, 4) as PosMode, va)).toBe('30');
    const s4 = await stateAfter(4);
    // Bonded at height 4 (epoch 1): counts from height 7.
    expect(stakeOf(effectiveMode(spec.mode, s4, 6) as PosMode, newcomer)).toBeUndefined();
    expect(stakeOf(effectiveMode(spec.mode, s4, 7) as PosMode, newcomer)).toBe('4');
    expect(consensusAt(spec.mode as PosMode, s4, 7).free).toEqual({ [va.key]: '6' });
  });

  test('bad stake moves fail with codes and change nothing', async () => {
    const spec = posSpec(1);
    const { result, stateAfter } = await run(spec, [
      [
        txOf(spec, vb, 0, 'unstake', { amount: '31' }),
        txOf(spec, newcomer, 0, 'stake', { amount: '1' }),
        txOf(spec, newcomer, 1, 'unstake', { amount: '1' }),
      ],
    ]);
    expect(result.rounds[1]!.receipts.map((r) => (r.status === 'failed' ? r.code : 'ok'))).toEqual([
      'insufficient_stake',
      'insufficient_stake',
      'insufficient_stake',
    ]);
    expect(await stateAfter(1)).toBeUndefined();
  });

  test('accept-time checks: reserved calls need well-formed args; program calls pass through', () => {
    expect(checkSystemCall(spec0.mode, 'stake', { amount: '5' })).toBe(true);
    expect(() => checkSystemCall(spec0.mode, 'stake', { amount: '0' })).toThrow();
    expect(() => checkSystemCall(spec0.mode, 'unstake', { amount: '1', extra: 1 })).toThrow();
    expect(() => checkSystemCall(spec0.mode, 'slash', { evidence: {} })).toThrow();
    expect(checkSystemCall(spec0.mode, 'set', { key: 'a', value: 1 })).toBe(false);
  });
});
const spec0 = posSpec(1);

// ---- equivocation evidence ----

function header(spec: SubtreeSpec, height: number, time: number): RoundHeader {
  const z = '00'.repeat(32);
  return {
    v: 1,
    network: NETWORK,
    subtree: toHex(subtreeId(spec)),
    height,
    prev: z,
    stateRoot: z,
    txRoot: z,
    receiptsRoot: z,
    txCount: 0,
    proposer: va.key,
    time,
  };
}

function signedHeader(p: Party, h: RoundHeader) {
  return { header: h, sig: toHex(signDigest(p.scheme, p.secret, roundHash(h))) };
}

describe('equivocation evidence', () => {
  const spec = posSpec(5, 2500);
  const a = header(spec, 3, 1000);
  const b = header(spec, 3, 2000);

  test('two signed headers at one height verify; the id does not depend on their order', () => {
    const e = parseEvidence({ validator: vc.key, a: signedHeader(vc, a), b: signedHeader(vc, b) });
    const f = verifyEvidence(e);
    const swapped = verifyEvidence(parseEvidence({ validator: vc.key, a: signedHeader(vc, b), b: signedHeader(vc, a) }));
    expect(f.id).toBe(swapped.id);
    const rounds = [toHex(roundHash(a)), toHex(roundHash(b))].sort();
    expect(f.id).toBe(toHex(digest('evidence', { v: 1, network: NETWORK, subtree: a.subtree, height: 3, validator: vc.key, rounds })));
  });

  test('refused: same header, other height, foreign signature, malformed shape', () => {
    const bad = [
      { validator: vc.key, a: signedHeader(vc, a), b: signedHeader(vc, a) },
      { validator: vc.key, a: signedHeader(vc, a), b: signedHeader(vc, header(spec, 4, 2000)) },
      { validator: vc.key, a: signedHeader(vc, a), b: signedHeader(vb, b) },
      { validator: vc.key, a: signedHeader(vc, a) },
      { validator: 'nobody', a: signedHeader(vc, a), b: signedHeader(vc, b) },
      { validator: vc.key, a: { header: { ...a, extra: 1 }, sig: signedHeader(vc, a).sig }, b: signedHeader(vc, b) },
    ];
    for (const body of bad) {
      expect(() => verifyEvidence(parseEvidence(body))).toThrow(expect.objectContaining({ code: 'invalid_evidence' }));
    }
  });

  test('a slash transaction burns slashBps of the stake, removes the validator at once, and works once', async () => {
    const evidence = { validator: vc.key, a: signedHeader(vc, a), b: signedHeader(vc, b) } as unknown as JsonValue;
    const other = { validator: vc.key, a: signedHeader(vc, a), b: signedHeader(vc, header(spec, 3, 3000)) } as unknown as JsonValue;
    const forged = { validator: vd.key, a: signedHeader(vc, a), b: signedHeader(vc, b) } as unknown as JsonValue;
    const { result, stateAfter } = await run(spec, [
      [txOf(spec, newcomer, 0, 'slash', { evidence: forged }), txOf(spec, newcomer, 1, 'slash', { evidence })],
      [txOf(spec, vb, 0, 'slash', { evidence: other })],
      [txOf(spec, vc, 0, 'stake', { amount: '1' }), txOf(spec, vc, 1, 'stake', { amount: '1', validator: vd.key })],
    ]);
    expect(result.rounds[1]!.receipts.map((r) => (r.status === 'failed' ? r.code : 'ok'))).toEqual(['invalid_evidence', 'ok']);
    expect(result.rounds[2]!.receipts[0]).toMatchObject({ status: 'failed', code: 'already_slashed' });
    const s1 = await stateAfter(1);
    const m = effectiveMode(spec.mode, s1, 2) as PosMode;
    expect(stakeOf(m, vc)).toBeUndefined();
    expect(m.validators.map((v) => v.key)).toEqual([va.key, vb.key, vd.key]);
    const st = consensusAt(spec.mode as PosMode, s1, 2);
    expect(st.slashed).toEqual([vc.key]);
    expect(st.free).toEqual({ [vc.key]: '15' }); // 20 - 25 %
    // A slashed key cannot be bonded again; its remaining free stake may back someone else.
    expect(result.rounds[3]!.receipts.map((r) => (r.status === 'failed' ? r.code : 'ok'))).toEqual(['slashed_validator', 'ok']);
  });
});
