import { describe, expect, test } from 'bun:test';
import { generateKey, inspectRound, inspectTransaction, receiptsMatchRoot, signDigestHex, signTransaction, walkProof } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { okReceipt, failedReceipt, receiptsRoot } from '../../src/core/receipt.ts';
import { nextHeader, genesisHeader, roundHash, txRoot } from '../../src/core/round.ts';
import type { Proof } from '../../src/core/smt/types.ts';
import { isValidProof } from '../../src/core/smt/verify.ts';
import { layoutProof } from '../../src/explorer/proof-layout.ts';
import vectors from '../vectors/smt.json' with { type: 'json' };

/**
 * What the explorer page draws and marks: the proof walk (SDK) and its leaf → root layout
 * (explorer), checked on the independent SPEC §4 vectors, and the per-field round and
 * transaction checks on real signed objects.
 */
interface VectorCase {
  name: string;
  root: string;
  proofs: { key: string; present: boolean | null; leaf: Proof['leaf']; siblings: string[] }[];
}
const proofs = (vectors as { cases: VectorCase[] }).cases.flatMap((c) =>
  c.proofs.map((p) => ({ name: `${c.name}/${p.key}`, proof: { key: p.key, root: c.root, leaf: p.leaf, siblings: p.siblings } as Proof, present: p.present === true })),
);
const bit = (pathHex: string, i: number) => (parseInt(pathHex.slice((i >> 3) * 2, (i >> 3) * 2 + 2), 16) >> (7 - (i & 7))) & 1;

describe('proof walk and layout', () => {
  test.each(proofs.map((p) => [p.name, p.proof, p.present] as const))('%s: the walk folds to the vector root, one row per sibling, the path on its bit\'s side', (_name, proof, present) => {
    const layout = layoutProof(walkProof(proof, proof.key), proof.root);
    expect(layout.root).toEqual({ computed: proof.root, claimed: proof.root, matches: true });
    expect(layout.leaf.depth).toBe(proof.siblings.length);
    expect(layout.rows.map((r) => r.depth)).toEqual(proof.siblings.map((_, j) => proof.siblings.length - 1 - j));
    let below = layout.leaf.hash;
    for (const [j, r] of layout.rows.entries()) {
      const onRight = bit(layout.path, r.depth) === 1;
      const [mine, other] = onRight ? [r.right, r.left] : [r.left, r.right];
      expect(mine).toEqual({ hash: below, role: 'path' });
      expect(other.hash).toBe(proof.siblings[j]!);
      expect(other.role).toBe(/^0+$/.test(other.hash) ? 'empty' : 'sibling');
      below = r.parent;
    }
    expect(below).toBe(proof.root);
    expect(layout.leaf.empty).toBe(proof.leaf === null);
    expect(isValidProof(proof, { key: proof.key, ...(present ? { valueHash: proof.leaf!.valueHash } : {}) })).toBe(true);
  });

  test('a flipped sibling byte: the drawing no longer reaches the root, and says so', () => {
    const p = proofs.find((x) => x.proof.siblings.length >= 2)!.proof;
    const bad = { ...p, siblings: p.siblings.map((s, i) => (i === 1 ? (s[0] === '0' ? '1' : '0') + s.slice(1) : s)) };
    const layout = layoutProof(walkProof(bad, bad.key), bad.root);
    expect(layout.root.matches).toBe(false);
    expect(layout.rows[0]!.parent).toBe(layoutProof(walkProof(p, p.key), p.root).rows[0]!.parent); // below the flip, unchanged
  });

  test('malformed proofs are refused, not drawn', () => {
    expect(() => walkProof({ key: 'a', root: '0'.repeat(64), leaf: null, siblings: ['xyz'] }, 'a')).toThrow(TypeError);
    expect(() => walkProof(null as unknown as Proof, 'a')).toThrow(TypeError);
  });
});

describe('round, receipts and transaction checks', () => {
  const node = generateKey();
  const sender = generateKey();
  const tx = signTransaction({ network: 'n', subtree: 'a'.repeat(64), key: sender, nonce: 0, call: 'set', args: { key: 'k', value: 1 } });
  const receipts = [okReceipt(tx.id, 0)];
  const g = genesisHeader({ network: 'n', subtree: 'a'.repeat(64), stateRoot: '0'.repeat(64), proposer: node.publicKey, time: 1 });
  const header = nextHeader(g, { stateRoot: 'b'.repeat(64), txRoot: toHex(txRoot([tx.id])), receiptsRoot: toHex(receiptsRoot(receipts)), txCount: 1, proposer: node.publicKey, time: 2 });
  const hash = toHex(roundHash(header));
  const mode = { type: 'poa' as const, authority: node.publicKey };

  test('a genuine round: hash, signature, finality and tx root all hold', () => {
    const sig = signDigestHex(node, roundHash(header));
    const r = inspectRound({ header, signatures: [{ signer: node.publicKey, sig }], txs: [tx.id], hash }, mode);
    expect(r).toMatchObject({ hash, hashMatches: true, final: true, txRootMatches: true, signatures: [{ signer: node.publicKey, valid: true }] });
    expect(receiptsMatchRoot(receipts, header)).toBe(true);
  });

  test('each field that does not hold is marked on its own', () => {
    const other = generateKey();
    const r = inspectRound({ header, signatures: [{ signer: node.publicKey, sig: signDigestHex(other, roundHash(header)) }], txs: [], hash: 'c'.repeat(64) }, mode);
    expect(r).toMatchObject({ hashMatches: false, final: false, txRootMatches: false, signatures: [{ valid: false }] });
    expect(receiptsMatchRoot([failedReceipt(tx.id, 0, 'unauthorized')], header)).toBe(false);
    expect(receiptsMatchRoot([], header)).toBe(false);
  });

  test('a transaction: its id is recomputed from the envelope and the sender signature checked', () => {
    expect(inspectTransaction({ id: tx.id, status: 'executed', envelope: tx.envelope })).toEqual({ id: tx.id, idMatches: true, senderSignatureValid: true });
    const forged = { ...tx.envelope, tx: { ...tx.envelope.tx, nonce: 1 } };
    expect(inspectTransaction({ id: tx.id, status: 'executed', envelope: forged })).toMatchObject({ idMatches: false, senderSignatureValid: false });
  });
});
