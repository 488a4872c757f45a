import { beforeAll, describe, expect, test } from 'bun:test';
import { digest } from '../../src/core/digest.ts';
import { EMPTY_HASH, type Hash32 } from '../../src/core/hash.ts';
import { toHex } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { balanceKey } from '../../src/core/programs/token.ts';
import { genesisHeader, nextHeader, roundHash, type RoundHeader } from '../../src/core/round.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { SparseMerkleTree, type TreeWrite } from '../../src/core/smt/tree.ts';
import type { SubtreeRequest } from '../../src/core/subtree-request.ts';
import {
  buildSubtreeRequest,
  generateKey,
  signDigestHex,
  signSubtreeRequest,
  subtreeIdHex,
  tokenGenesis,
  verifyAcceptance,
  verifyStateResponse,
  VerificationError,
  type Acceptance,
  type KeyPair,
  type RoundResponse,
  type StateResponse,
  type VerificationLink,
  type VerifyStateOptions,
} from '../../src/client/index.ts';

/**
 * Everything here is built with the real core: a sparse Merkle tree over a memory store, round
 * headers, real signatures. The tampering cases mimic what a lying node could send.
 */
const NETWORK = 'dstp-test';
const owner = generateKey();
const authority = generateKey();
const mallory = generateKey();
const alice = generateKey().publicKey;
const bob = generateKey('secp256k1').publicKey;

/** Signed by the owner and the authority, as the node stores it after adding its own signature. */
function makeRequest(o: { name?: string; authority?: KeyPair; ownerKey?: KeyPair } = {}): SubtreeRequest {
  const ownerKey = o.ownerKey ?? owner;
  const authorityKey = o.authority ?? authority;
  const spec = buildSubtreeRequest({
    network: NETWORK,
    owner: ownerKey.publicKey,
    name: o.name ?? 'my-app',
    program: 'token',
    config: { symbol: 'TOK', decimals: 0, minter: ownerKey.publicKey },
    mode: { type: 'poa', authority: authorityKey.publicKey },
    genesis: tokenGenesis({ [alice]: 10, [bob]: 1 }),
  });
  return signSubtreeRequest(spec, [ownerKey, authorityKey]);
}

const request = makeRequest();
const SUBTREE = subtreeIdHex(request.subtree);
const store = new MemoryNodeStore();
const tree = new SparseMerkleTree(store);

async function write(root: Hash32, writes: TreeWrite[]): Promise<Hash32> {
  const r = await tree.apply(root, writes);
  await store.putMany(r);
  return r.root;
}

function signedRound(header: RoundHeader, signers: KeyPair[]): RoundResponse {
  const h = roundHash(header);
  return { header, signatures: signers.map((k) => ({ signer: k.publicKey, sig: signDigestHex(k, h) })), txs: [] };
}

async function stateAt(root: Hash32, height: number, key: string, value: JsonValue | undefined): Promise<StateResponse> {
  const proof = await tree.prove(root, key);
  return { key, exists: value !== undefined, ...(value !== undefined ? { value } : {}), height, root: toHex(root), proof };
}

let genesisRoot: Hash32;
let round0: RoundResponse;
let round1: RoundResponse;
let root1: Hash32;

beforeAll(async () => {
  genesisRoot = await write(EMPTY_HASH, request.subtree.genesis);
  const h0 = genesisHeader({ network: NETWORK, subtree: SUBTREE, stateRoot: toHex(genesisRoot), proposer: authority.publicKey, time: 1 });
  round0 = signedRound(h0, [authority]);
  // Round 1: Alice sent Bob 2 (the writes the token program would make, plus Alice's nonce).
  root1 = await write(genesisRoot, [
    { key: balanceKey(alice), value: '8' },
    { key: balanceKey(bob), value: '3' },
    { key: `sys/nonce/${alice}`, value: 1 },
  ]);
  const h1 = nextHeader(h0, {
    stateRoot: toHex(root1),
    txRoot: 'aa'.repeat(32),
    receiptsRoot: 'bb'.repeat(32),
    txCount: 1,
    proposer: authority.publicKey,
    time: 2,
  });
  round1 = signedRound(h1, [authority]);
});

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

async function failure(response: StateResponse, opts: VerifyStateOptions): Promise<VerificationError> {
  try {
    await verifyStateResponse(response, opts);
  } catch (e) {
    if (e instanceof VerificationError) return e;
    throw e;
  }
  throw new Error('verification passed but should have failed');
}

async function expectLink(response: StateResponse, opts: VerifyStateOptions, link: VerificationLink): Promise<VerificationError> {
  const e = await failure(response, opts);
  expect(e.link).toBe(link);
  expect(e.message.startsWith(`${link}: `)).toBe(true);
  return e;
}

describe('verifyStateResponse: honest node', () => {
  test('genesis balance, round 0: all four links hold', async () => {
    const state = await stateAt(genesisRoot, 0, balanceKey(alice), '10');
    const v = await verifyStateResponse(state, { key: balanceKey(alice), request, round: round0, expectedValue: '10' });
    expect(v.subtree).toBe(SUBTREE);
    expect(v.value).toBe('10');
    expect(v.links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree']);
    expect(v.signers).toEqual([authority.publicKey]);
    expect(v.roundHash).toBe(toHex(roundHash(round0.header)));
  });

  test('after the transfer, round 1: Alice 8 and Bob 3, fetching the round through a client', async () => {
    const heights: number[] = [];
    const client = {
      getRound: async (subtree: string, height: number) => {
        expect(subtree).toBe(SUBTREE);
        heights.push(height);
        return round1;
      },
    };
    for (const [who, amount] of [[alice, '8'], [bob, '3']] as const) {
      const state = await stateAt(root1, 1, balanceKey(who), amount);
      const v = await verifyStateResponse(state, { key: balanceKey(who), subtree: SUBTREE, request, client, expectedValue: amount });
      expect(v.height).toBe(1);
      expect(v.value).toBe(amount);
    }
    expect(heights).toEqual([1, 1]);
  });

  test('absence is proven too (exclusion proof), and expectedValue null requires it', async () => {
    const carol = generateKey().publicKey;
    const state = await stateAt(root1, 1, balanceKey(carol), undefined);
    const v = await verifyStateResponse(state, { key: balanceKey(carol), request, round: round1, expectedValue: null });
    expect(v.exists).toBe(false);
    expect(v.value).toBeUndefined();
    await expectLink(state, { key: balanceKey(carol), request, round: round1, expectedValue: '1' }, 'proof');
  });

  test('the round embedded in the state response is used when no round or client is given', async () => {
    const state = await stateAt(root1, 1, balanceKey(bob), '3');
    const embedded = { ...state, round: { header: round1.header, signatures: round1.signatures }, roundHash: toHex(roundHash(round1.header)) };
    const v = await verifyStateResponse(embedded, { key: balanceKey(bob), request });
    expect(v.links[1]!.detail).toContain('(response)');
    await expectLink({ ...embedded, roundHash: '00'.repeat(32) }, { key: balanceKey(bob), request }, 'round');
    await expectLink(state, { key: balanceKey(bob), request }, 'round'); // nothing to check against
  });

  test('a caller who knows the mode can verify without the creation request', async () => {
    const state = await stateAt(genesisRoot, 0, 'supply', '11');
    const v = await verifyStateResponse(state, { key: 'supply', subtree: SUBTREE, mode: request.subtree.mode, round: round0 });
    expect(v.links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures']);
  });
});

describe('verifyStateResponse: a lying node is caught at the right link', () => {
  const opts = (round: RoundResponse): VerifyStateOptions => ({ key: balanceKey(alice), subtree: SUBTREE, request, round });

  test('proof: a flipped sibling', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    expect(state.proof.siblings.length).toBeGreaterThan(0);
    const s = state.proof.siblings[0]!;
    state.proof.siblings[0] = (s[0] === '0' ? '1' : '0') + s.slice(1);
    const e = await expectLink(state, opts(round1), 'proof');
    expect(e.cause).toBeDefined();
    expect(e.got).toBeDefined(); // the root the siblings fold to
  });

  test('proof: a different value than the leaf commits to', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    state.value = '800';
    const e = await expectLink(state, opts(round1), 'proof');
    expect(e.message).toContain('value hash');
  });

  test('proof: the value is not the one the caller expects', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const e = await expectLink(state, { ...opts(round1), expectedValue: '9' }, 'proof');
    expect(e.expected).toBe('9');
    expect(e.got).toBe('8');
  });

  test('proof: response root differs from the proof root', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    state.root = toHex(genesisRoot);
    const e = await expectLink(state, opts(round1), 'proof');
    expect(e.expected).toBe(toHex(genesisRoot));
  });

  test('proof: a proof for another key', async () => {
    const state = await stateAt(root1, 1, balanceKey(bob), '3');
    await expectLink({ ...state, key: balanceKey(alice) }, opts(round1), 'proof');
    await expectLink(state, opts(round1), 'proof');
  });

  test('round: a self-consistent forged state whose root no signed round commits to', async () => {
    const forgedRoot = await write(root1, [{ key: balanceKey(alice), value: '1000' }]);
    const state = await stateAt(forgedRoot, 1, balanceKey(alice), '1000');
    const e = await expectLink(state, opts(round1), 'round');
    expect(e.expected).toBe(toHex(forgedRoot));
    expect(e.got).toBe(round1.header.stateRoot);
  });

  test('round: header stateRoot edited to match the forged root → the signature no longer covers it', async () => {
    const forgedRoot = await write(root1, [{ key: balanceKey(alice), value: '1000' }]);
    const state = await stateAt(forgedRoot, 1, balanceKey(alice), '1000');
    const round = clone(round1);
    round.header.stateRoot = toHex(forgedRoot);
    const e = await expectLink(state, opts(round), 'signatures');
    expect(e.expected).toEqual({ rule: 'authority', key: authority.publicKey });
    expect(e.got).toEqual({ validSigners: [], signatures: 1 });
  });

  test('round: the round of another height or subtree, or a malformed header', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const e = await expectLink(state, opts(round0), 'round');
    expect(e.message).toContain('header.height');
    expect([e.expected, e.got]).toEqual([1, 0]);
    const other = clone(round1);
    other.header.subtree = 'ee'.repeat(32);
    expect((await expectLink(state, opts(other), 'round')).expected).toBe(SUBTREE);
    const malformed = clone(round1) as unknown as { header: Record<string, unknown> };
    malformed.header.extra = 1;
    await expectLink(state, opts(malformed as unknown as RoundResponse), 'round');
    const wrongHash = { ...clone(round1), hash: 'ff'.repeat(32) };
    await expectLink(state, opts(wrongHash), 'round');
  });

  test('signatures: a flipped signature byte', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const round = clone(round1);
    const sig = round.signatures[0]!.sig;
    round.signatures[0]!.sig = sig.slice(0, -2) + (sig.endsWith('00') ? '01' : '00');
    await expectLink(state, opts(round), 'signatures');
  });

  test('signatures: a valid signature by a key that is not the authority', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const round = signedRound(round1.header, [mallory]);
    const e = await expectLink(state, opts(round), 'signatures');
    expect(e.got).toEqual({ validSigners: [mallory.publicKey], signatures: 1 });
    await expectLink(state, opts({ ...round1, signatures: [] }), 'signatures');
  });

  test('subtree: a genuine request for another subtree id', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const other = makeRequest({ name: 'other-app' });
    const e = await expectLink(state, { ...opts(round1), request: other }, 'subtree');
    expect(e.expected).toBe(SUBTREE);
    expect(e.got).toBe(subtreeIdHex(other.subtree));
  });

  test('subtree: the node swaps in its own authority — the owner never signed that mode', async () => {
    const forged = clone(request);
    forged.subtree.mode = { type: 'poa', authority: mallory.publicKey };
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const round = signedRound(round1.header, [mallory]);
    // The rounds verify under the forged mode; only the owner's signature exposes it.
    const e = await expectLink(state, { ...opts(round), request: forged }, 'subtree');
    expect(e.expected).toBe(owner.publicKey);
  });

  test('subtree: a request without the owner signature, or malformed', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const unsigned = { subtree: request.subtree, sigs: [] };
    await expectLink(state, { ...opts(round1), request: unsigned }, 'subtree');
    await expectLink(state, { ...opts(round1), request: { subtree: { ...request.subtree, v: 2 }, sigs: request.sigs } }, 'subtree');
  });

  test('subtree: the owner signature alone does not meet the poa creation rule (authority missing)', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    const ownerOnly = { subtree: request.subtree, sigs: request.sigs.filter((x) => x.signer === owner.publicKey) };
    const e = await expectLink(state, { ...opts(round1), request: ownerOnly }, 'subtree');
    expect(e.expected).toEqual([{ rule: 'authority', key: authority.publicKey }]);
  });

  test('subtree: a mode the caller was told (by the node) disagrees with the signed request', async () => {
    const state = await stateAt(root1, 1, balanceKey(alice), '8');
    // Rounds signed by mallory pass under the claimed mode; the owner-signed request refutes it.
    const round = signedRound(round1.header, [mallory]);
    const claimed = { type: 'poa' as const, authority: mallory.publicKey };
    const e = await expectLink(state, { ...opts(round), mode: claimed }, 'subtree');
    expect(e.expected).toEqual(claimed);
    expect(e.got).toEqual(request.subtree.mode);
  });
});

describe('verifyAcceptance', () => {
  const node = generateKey();
  const accept: Acceptance = { v: 1, network: NETWORK, tx: '11'.repeat(32), subtree: SUBTREE, seq: 0, time: 1_700_000_000_000 };
  const sig = signDigestHex(node, digest('accept', accept));

  test('a genuine acceptance verifies, also against the expected tx and subtree', () => {
    expect(() => verifyAcceptance(accept, sig, node.publicKey, { tx: accept.tx, subtree: SUBTREE, network: NETWORK })).not.toThrow();
  });

  test('a changed seq, another node key or another tx id are refused with evidence', () => {
    const bad = (f: () => void): VerificationError => {
      try {
        f();
      } catch (e) {
        if (e instanceof VerificationError) return e;
        throw e;
      }
      throw new Error('should have failed');
    };
    expect(bad(() => verifyAcceptance({ ...accept, seq: 1 }, sig, node.publicKey)).link).toBe('acceptance');
    expect(bad(() => verifyAcceptance(accept, sig, mallory.publicKey)).expected).toBe(mallory.publicKey);
    expect(bad(() => verifyAcceptance(accept, sig, node.publicKey, { tx: '22'.repeat(32) })).got).toBe(accept.tx);
    expect(bad(() => verifyAcceptance({ ...accept, extra: 1 } as Acceptance, sig, node.publicKey)).link).toBe('acceptance');
  });
});
