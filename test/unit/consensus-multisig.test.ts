import { describe, expect, test } from 'bun:test';
import type { MultisigMode } from '../../src/core/consensus/mode.ts';
import { resumeDigest, resumeObject } from '../../src/core/consensus/resume.ts';
import { digest } from '../../src/core/digest.ts';
import { CONSENSUS_KEY } from '../../src/core/consensus/state.ts';
import { checkSystemCall, effectiveMode } from '../../src/core/consensus/system.ts';
import { sha256 } from '../../src/core/hash.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import { jcs, type JsonValue } from '../../src/core/jcs.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { replay } from '../../src/core/replay.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { MemoryValueStore, readState } from '../../src/core/state-reader.ts';
import { parseSubtreeSpec, subtreeId, type SubtreeSpec } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { txIdHex, type IdentifiedTx, type Tx } from '../../src/core/tx.ts';
import { NETWORK, party, type Party } from './core-fixtures.ts';

const s1 = party('signer-1');
const s2 = party('signer-2', 'secp256k1');
const s3 = party('signer-3');
const s4 = party('signer-4');
const outsider = party('outsider');

const spec: SubtreeSpec = parseSubtreeSpec({
  v: 1,
  network: NETWORK,
  parent: ROOT_ID_HEX,
  owner: s1.key,
  name: 'ms',
  program: 'kv',
  config: { writers: 'any' },
  mode: { type: 'multisig', signers: [s1.key, s2.key, s3.key], threshold: 2, proposalTimeoutMs: 5000 },
  genesis: [{ key: 'kv/a', value: 1 }],
}, NATIVE_PROGRAMS);

function txOf(from: Party, nonce: number, call: string, args: Record<string, JsonValue>): IdentifiedTx {
  const tx: Tx = { v: 1, network: NETWORK, subtree: toHex(subtreeId(spec)), sender: from.key, nonce, call, args };
  return { id: txIdHex(tx), tx };
}

async function run(rounds: IdentifiedTx[][]) {
  const store = new MemoryNodeStore();
  const values = new MemoryValueStore();
  const result = await replay({ subtree: spec, rounds: rounds.map((txs) => ({ txs })), store, values });
  const tree = new SparseMerkleTree(store);
  const modeAfter = async (h: number) => {
    const v = (await readState(tree, values, fromHex(result.rounds[h]!.stateRoot, 32), [CONSENSUS_KEY])).get(CONSENSUS_KEY);
    return effectiveMode(spec.mode, v, h + 1) as MultisigMode;
  };
  return { result, modeAfter };
}

const change = { signers: [s1.key, s2.key, s3.key, s4.key], threshold: 3 };
const codes = (r: { receipts: { status: string; code?: string }[] }) => r.receipts.map((x) => (x.status === 'failed' ? x.code : 'ok'));

describe('multisig signer-set changes (set_signers votes)', () => {
  test('a change applies when the current threshold of signers voted for it, from the next round on', async () => {
    const { result, modeAfter } = await run([
      [txOf(s1, 0, 'set_signers', change), txOf(outsider, 0, 'set_signers', change)],
      [txOf(s3, 0, 'set_signers', change)],
      [txOf(s4, 0, 'set_signers', { signers: [s4.key], threshold: 1 })],
    ]);
    expect(codes(result.rounds[1]!)).toEqual(['ok', 'not_a_signer']);
    expect((await modeAfter(1)).signers).toEqual(spec.mode.type === 'multisig' ? spec.mode.signers : []);
    expect(await modeAfter(2)).toEqual({ type: 'multisig', ...change, proposalTimeoutMs: 5000 });
    // s4 is a signer now: its vote records, but one of three is not enough.
    expect(codes(result.rounds[3]!)).toEqual(['ok']);
    expect((await modeAfter(3)).threshold).toBe(3);
  });

  test('votes for different changes do not add up; a re-vote replaces the earlier one', async () => {
    const other = { signers: [s1.key, s2.key], threshold: 2 };
    const { modeAfter } = await run([
      [txOf(s1, 0, 'set_signers', change), txOf(s2, 0, 'set_signers', other)],
      [txOf(s1, 1, 'set_signers', other)],
    ]);
    expect((await modeAfter(1)).signers.length).toBe(3);
    expect((await modeAfter(2)).signers).toEqual(other.signers);
  });

  test('malformed changes are refused at accept time (invalid_args)', () => {
    expect(checkSystemCall(spec.mode, 'set_signers', change)).toBe(true);
    for (const bad of [
      { signers: [s1.key], threshold: 2 },
      { signers: [s1.key, s1.key], threshold: 1 },
      { signers: [], threshold: 1 },
      { signers: [s1.key], threshold: 1, extra: true },
    ]) {
      expect(() => checkSystemCall(spec.mode, 'set_signers', bad as Record<string, JsonValue>)).toThrow(expect.objectContaining({ code: 'invalid_args' }));
    }
    expect(checkSystemCall(spec.mode, 'set', { key: 'x', value: 1 })).toBe(false);
  });
});

describe('resume object', () => {
  test('digest = H("DSTP/resume/v1\\n" || jcs(resume)) and names the halt', () => {
    const r = resumeObject({ network: NETWORK, subtree: 'ab'.repeat(32), height: 7, halt: 2, round: 'cd'.repeat(32), evidence: null });
    expect(Object.keys(r).sort()).toEqual(['action', 'halt', 'height', 'network', 'round', 'subtree', 'v']);
    expect(toHex(resumeDigest(r))).toBe(toHex(digest('resume', r)));
    const byEvidence = resumeObject({ network: NETWORK, subtree: 'ab'.repeat(32), height: 7, halt: 2, round: 'cd'.repeat(32), evidence: 'ef'.repeat(32) });
    expect(byEvidence.evidence).toBe('ef'.repeat(32));
    expect(toHex(resumeDigest(byEvidence))).not.toBe(toHex(resumeDigest(r)));
    const want = sha256(concatBytes(utf8('DSTP/resume/v1\n'), utf8(jcs(r))));
    expect(toHex(resumeDigest(r))).toBe(toHex(want));
    expect(toHex(resumeDigest({ ...r, halt: 3 }))).not.toBe(toHex(want));
  });
});
