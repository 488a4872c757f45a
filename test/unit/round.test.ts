import { describe, expect, test } from 'bun:test';
import { isRoundFinal, roundSigners } from '../../src/core/consensus/signing-rules.ts';
import { parseMode } from '../../src/core/consensus/mode.ts';
import { DstpError } from '../../src/core/errors.ts';
import { sha256 } from '../../src/core/hash.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import { jcs } from '../../src/core/jcs.ts';
import { signDigest } from '../../src/core/keys.ts';
import { receiptsRoot, type Receipt } from '../../src/core/receipt.ts';
import { EMPTY_LIST_ROOT, genesisHeader, nextHeader, parseRoundHeader, roundHash, txRoot, type RoundHeader } from '../../src/core/round.ts';
import { alice, bob, carol, dave, NETWORK, SUBTREE, type Party } from './core-fixtures.ts';

// RFC 6962 §2.1 by hand, independent of the merkle-log module.
const leaf = (d: Uint8Array) => sha256(concatBytes(new Uint8Array([0]), d));
const node = (l: Uint8Array, r: Uint8Array) => sha256(concatBytes(new Uint8Array([1]), l, r));

const ids = ['11', '22', '33'].map((b) => b.repeat(32));

describe('roots', () => {
  test('EMPTY_LIST_ROOT is SHA-256 of the empty string', () => {
    expect(toHex(EMPTY_LIST_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(txRoot([])).toEqual(EMPTY_LIST_ROOT);
    expect(receiptsRoot([])).toEqual(EMPTY_LIST_ROOT);
  });

  test('txRoot is the RFC 6962 tree hash over the 32 id bytes', () => {
    const [a, b, c] = ids.map((h) => fromHex(h));
    expect(txRoot(ids.slice(0, 1))).toEqual(leaf(a!));
    expect(txRoot(ids.slice(0, 2))).toEqual(node(leaf(a!), leaf(b!)));
    expect(txRoot(ids)).toEqual(node(node(leaf(a!), leaf(b!)), leaf(c!)));
  });

  test('txRoot refuses ids that are not 32 bytes of lowercase hex', () => {
    for (const bad of ['ab', 'AB'.repeat(32), 'zz'.repeat(32)]) expect(() => txRoot([bad])).toThrow(DstpError);
  });

  test('receiptsRoot hashes jcs(receipt); "code" appears only on failures', () => {
    const rs: Receipt[] = [
      { tx: ids[0]!, index: 0, status: 'ok' },
      { tx: ids[1]!, index: 1, status: 'failed', code: 'insufficient_balance' },
    ];
    const r0 = utf8(`{"index":0,"status":"ok","tx":"${ids[0]}"}`);
    const r1 = utf8(`{"code":"insufficient_balance","index":1,"status":"failed","tx":"${ids[1]}"}`);
    expect(receiptsRoot(rs)).toEqual(node(leaf(r0), leaf(r1)));
  });
});

describe('round header', () => {
  const g = genesisHeader({ network: NETWORK, subtree: SUBTREE, stateRoot: '77'.repeat(32), proposer: bob.key, time: 1763700000000 });

  test('genesis: height 0, zero prev, no txs, empty-list roots', () => {
    expect(g).toEqual({
      v: 1,
      network: NETWORK,
      subtree: SUBTREE,
      height: 0,
      prev: '00'.repeat(32),
      stateRoot: '77'.repeat(32),
      txRoot: toHex(EMPTY_LIST_ROOT),
      receiptsRoot: toHex(EMPTY_LIST_ROOT),
      txCount: 0,
      proposer: bob.key,
      time: 1763700000000,
    });
    expect(Object.keys(g).sort()).toEqual(['height', 'network', 'prev', 'proposer', 'receiptsRoot', 'stateRoot', 'subtree', 'time', 'txCount', 'txRoot', 'v']);
  });

  test('roundHash = H("DSTP/round/v1\\n" || jcs(header))', () => {
    expect(roundHash(g)).toEqual(sha256(concatBytes(utf8('DSTP/round/v1\n'), utf8(jcs(g)))));
  });

  test('nextHeader links by hash and increments the height', () => {
    const h1 = nextHeader(g, { stateRoot: '88'.repeat(32), txRoot: ids[0]!, receiptsRoot: ids[1]!, txCount: 3, proposer: bob.key, time: 1763700000500 });
    expect(h1.height).toBe(1);
    expect(h1.prev).toBe(toHex(roundHash(g)));
    expect(h1.network).toBe(NETWORK);
    expect(parseRoundHeader(JSON.parse(JSON.stringify(h1)))).toEqual(h1);
  });

  const bad: [string, (h: Record<string, any>) => void][] = [
    ['extra field', (h) => (h.extra = 1)],
    ['missing time', (h) => delete h.time],
    ['v 2', (h) => (h.v = 2)],
    ['uppercase root', (h) => (h.stateRoot = 'AB'.repeat(32))],
    ['negative height', (h) => (h.height = -1)],
    ['string txCount', (h) => (h.txCount = '0')],
    ['fractional time', (h) => (h.time = 1.5)],
    ['proposer not a key', (h) => (h.proposer = 'bob')],
  ];
  for (const [name, mutate] of bad) {
    test(`parseRoundHeader rejects ${name}`, () => {
      const h = structuredClone(g) as Record<string, any>;
      mutate(h);
      try {
        parseRoundHeader(h);
        throw new Error('accepted');
      } catch (e) {
        expect((e as DstpError).code).toBe('invalid_round');
      }
    });
  }
});

describe('round finality', () => {
  const h = genesisHeader({ network: NETWORK, subtree: SUBTREE, stateRoot: '77'.repeat(32), proposer: bob.key, time: 0 });
  const hash = roundHash(h);
  const sig = (p: Party, d: Uint8Array = hash) => ({ signer: p.key, sig: toHex(signDigest(p.scheme, p.secret, d)) });

  test('poa: final exactly with a valid signature by the authority', () => {
    const mode = parseMode({ type: 'poa', authority: bob.key });
    expect(roundSigners(mode)).toEqual({ rule: 'authority', key: bob.key });
    expect(isRoundFinal(mode, hash, [sig(bob)])).toBe(true);
    expect(isRoundFinal(mode, hash, [])).toBe(false);
    expect(isRoundFinal(mode, hash, [sig(alice)])).toBe(false);
    expect(isRoundFinal(mode, hash, [{ signer: bob.key, sig: sig(alice).sig }])).toBe(false);
    expect(isRoundFinal(mode, hash, [sig(bob, sha256(utf8('another round')))])).toBe(false);
    expect(isRoundFinal(mode, hash, [{ signer: bob.key, sig: 'zz' }])).toBe(false);
  });

  test('multisig: threshold distinct valid signatures', () => {
    const mode = parseMode({ type: 'multisig', signers: [alice.key, carol.key, dave.key], threshold: 2, proposalTimeoutMs: 5000 });
    expect(isRoundFinal(mode, hash, [sig(alice), sig(alice)])).toBe(false);
    expect(isRoundFinal(mode, hash, [sig(alice), sig(bob)])).toBe(false);
    expect(isRoundFinal(mode, hash, [sig(alice), sig(dave)])).toBe(true);
  });

  test('pos: more than 2/3 of the stake', () => {
    const mode = parseMode({ type: 'pos', validators: [{ key: alice.key, stake: '2' }, { key: carol.key, stake: '1' }], epochRounds: 5 });
    expect(isRoundFinal(mode, hash, [sig(alice)])).toBe(false); // exactly 2/3
    expect(isRoundFinal(mode, hash, [sig(alice), sig(carol)])).toBe(true);
  });
});
