/**
 * SPEC §8: replaying a subtree's finalized transactions from genesis on any node yields every
 * round's stateRoot, txRoot and receiptsRoot exactly. And SPEC §11: state can be read at any past
 * height with a proof against that height's signed root. One real node process runs several rounds
 * of transfers (successes, insufficient balances, zero amounts, an account emptied and one created);
 * everything the checks need is then read back over HTTP, as an auditor would.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey, type KeyPair } from '../../src/client/index.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { verifyDigest } from '../../src/core/keys.ts';
import { balanceKey, SUPPLY_KEY } from '../../src/core/programs/token.ts';
import type { Receipt } from '../../src/core/receipt.ts';
import { replay, type ReplayResult } from '../../src/core/replay.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { roundHash, type RoundHeader } from '../../src/core/round.ts';
import { SparseMerkleTree } from '../../src/core/smt/tree.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import type { Tx } from '../../src/core/tx.ts';
import { openDatabase } from '../../src/store/db.ts';
import { LibsqlNodeStore } from '../../src/store/index.ts';
import { cleanupAll, createTokenSubtree, http, mapLimit, spawnNode, tempDir, transfer, waitFor, type NodeProc } from './harness.ts';
import { modelTransfers } from './ledger.ts';

interface RoundView {
  height: number;
  hash: string;
  header: RoundHeader;
  signatures: { signer: string; sig: string }[];
  txs: string[];
}
interface TxView {
  id: string;
  status: string;
  height?: number;
  receipt?: Receipt;
  envelope: { tx: Tx; sig: string };
}

let node: NodeProc;
let dir: string;
let nodeKey: string;
let subtree: string;
let supply: bigint;
let accounts: KeyPair[];
let genesis: Map<string, bigint>;
let request: unknown;
let rounds: RoundView[];
let txViews: Map<string, TxView>;
let setupMs = 0;

/**
 * Sends one wave of transfers as one batch (each sender at its next nonces) and waits until all
 * ran. Admission judges the items in order against the final state and the batch's earlier
 * credits, so the outcome does not depend on timing: a transfer that nothing credits and that
 * exceeds the balance is refused at the door (no nonce; the sender's later items in the wave then
 * miss their nonce and are left out too), while two spends that each fit are both admitted and
 * the second fails in execution.
 */
async function wave(nonces: Map<string, number>, items: [from: number, to: number, amount: string][]): Promise<void> {
  const planned = new Map(nonces);
  const all = items.map(([f, t, amount]) => {
    const from = accounts[f]!;
    const nonce = planned.get(from.publicKey) ?? 0;
    planned.set(from.publicKey, nonce + 1);
    return { from, nonce, ...transfer(subtree, from, nonce, accounts[t]!.publicKey, amount) };
  });
  const r = await http(node.url, 'POST', '/v1/transactions/batch', { json: { txs: all.map((s) => s.envelope) } });
  const signed: { id: string }[] = [];
  (r.body as { items: { status: number; problem?: { code: string; admission?: boolean } }[] }).items.forEach((it, i) => {
    const s = all[i]!;
    if (it.status === 202) {
      nonces.set(s.from.publicKey, s.nonce + 1);
      signed.push(s);
    } else if (!(it.problem?.admission === true || it.problem?.code === 'nonce_mismatch')) {
      throw new Error(`transfer answered ${it.status}: ${JSON.stringify(it)}`);
    }
  });
  await waitFor(
    'the wave to execute',
    async () => {
      const views = await Promise.all(signed.map((s) => http<TxView>(node.url, 'GET', `/v1/transactions/${s.id}`)));
      return views.every((v) => v.body.status !== 'pending') ? true : undefined;
    },
    15_000,
    20,
  );
}

/** All rounds through the paged list (small pages to cross page boundaries), checked against /rounds/:h. */
async function readRounds(): Promise<RoundView[]> {
  const out: RoundView[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = `?limit=3${cursor !== undefined ? `&cursor=${cursor}` : ''}`;
    const res = await http<{ items: RoundView[]; next?: string }>(node.url, 'GET', `/v1/subtrees/${subtree}/rounds${q}`);
    if (res.status !== 200) throw new Error(`rounds page: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...res.body.items);
    if (res.body.next === undefined) return out;
    cursor = res.body.next;
  }
  throw new Error('round paging did not end');
}

beforeAll(async () => {
  const t0 = performance.now();
  dir = tempDir();
  node = await spawnNode({ dbPath: join(dir, 'node.db'), nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), roundIntervalMs: 30 });
  nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
  accounts = Array.from({ length: 6 }, () => generateKey('ed25519'));
  // Account 5 starts absent (no genesis entry); account 4 holds 1 and will give it away.
  genesis = new Map(accounts.slice(0, 5).map((k, i) => [k.publicKey, [100n, 50n, 10n, 5n, 1n][i]!]));
  const st = await createTokenSubtree(node.url, { owner: accounts[0]!, authority: nodeKey, name: 'replay', balances: Object.fromEntries(genesis) });
  subtree = st.id;
  supply = st.supply;

  const nonces = new Map<string, number>();
  await wave(nonces, [
    [0, 1, '10'],
    [2, 3, '0'], // invalid_amount
    [4, 5, '1'], // empties account 4 (its key is deleted), creates account 5
    [3, 0, '6'], // admitted on the credit just above; insufficient_balance: 5 < 6
    [1, 2, '30'],
    [1, 3, '30'], // each fits account 1's 50, both admitted; insufficient_balance: 20 < 30
  ]);
  await wave(nonces, [
    [1, 2, '60'],
    [5, 4, '1'],
    [0, 0, '5'], // to oneself: ok, moves nothing
    [2, 1, '100'], // admitted on the credit above; insufficient_balance
  ]);
  // Deterministic pseudo-random waves; amounts sometimes exceed the sender's balance.
  let x = 7;
  for (let w = 0; w < 4; w++) {
    const items: [number, number, string][] = [];
    for (let k = 0; k < 5; k++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      items.push([x % 6, (x >> 8) % 6, String((x >> 4) % 40)]);
    }
    await wave(nonces, items);
  }

  const head = await http(node.url, 'GET', `/v1/subtrees/${subtree}`);
  request = head.body.request;
  rounds = await readRounds();
  const singles = await mapLimit(rounds, 4, (r) => http<RoundView>(node.url, 'GET', `/v1/subtrees/${subtree}/rounds/${r.height}`));
  singles.forEach((s, i) => {
    if (JSON.stringify(s.body.header) !== JSON.stringify(rounds[i]!.header) || s.body.txs.join() !== rounds[i]!.txs.join()) {
      throw new Error(`GET /rounds/${i} disagrees with the paged list`);
    }
  });
  const ids = rounds.flatMap((r) => r.txs);
  const views = await mapLimit(ids, 8, (id) => http<TxView>(node.url, 'GET', `/v1/transactions/${id}`));
  txViews = new Map(views.map((v) => [v.body.id, v.body]));
  if (head.body.height !== rounds.length - 1) throw new Error(`head height ${head.body.height}, rounds listed ${rounds.length}`);
  setupMs = Math.round(performance.now() - t0);
}, 60_000);

afterAll(cleanupAll);

function replayInput() {
  const spec = parseSubtreeRequest(request, NATIVE_PROGRAMS).subtree;
  return {
    subtree: spec,
    genesis: rounds[0]!.header,
    rounds: rounds.slice(1).map((r) => ({ header: r.header, txs: r.txs.map((id) => ({ id, tx: txViews.get(id)!.envelope.tx })) })),
  };
}

/** Every replayed round's three roots equal the node's header, field by field. */
function compareRoots(result: ReplayResult): string[] {
  const p: string[] = [];
  if (result.rounds.length !== rounds.length) p.push(`replayed ${result.rounds.length} rounds, node has ${rounds.length}`);
  for (const r of result.rounds) {
    const h = rounds[r.height]!.header;
    for (const f of ['stateRoot', 'txRoot', 'receiptsRoot', 'txCount'] as const) {
      if (r[f] !== h[f]) p.push(`height ${r.height} ${f}: replay ${r[f]}, node ${h[f]}`);
    }
  }
  return p;
}

describe('reliability: replay reproduces roots', () => {
  test('the run has several rounds with ok and failed transactions', () => {
    const codeOf = (r?: Receipt) => (r?.status === 'failed' ? r.code : undefined);
    const codes = [...txViews.values()].map((v) => codeOf(v.receipt) ?? v.receipt?.status);
    expect(rounds.length).toBeGreaterThanOrEqual(7);
    expect(codes).toContain('ok');
    expect(codes).toContain('insufficient_balance');
    expect(codes).toContain('invalid_amount');
    // An independent arithmetic model agrees with every receipt.
    const log = rounds.flatMap((r) => r.txs.map((id) => ({ id, sender: txViews.get(id)!.envelope.tx.sender, tx: txViews.get(id)!.envelope.tx as never })));
    const { outcome } = modelTransfers(genesis, log);
    for (const [id, v] of txViews) {
      const want = outcome.get(id)!;
      expect({ status: v.status, code: codeOf(v.receipt) }).toEqual({ status: want.status, code: want.code });
    }
  });

  test('in memory: every round header and receipt comes out exactly', async () => {
    const result = await replay({ ...replayInput(), store: new MemoryNodeStore() });
    expect(result.mismatches).toEqual([]);
    expect(result.ok).toBe(true);
    expect(compareRoots(result)).toEqual([]);
    for (const r of result.rounds.slice(1)) {
      expect(r.receipts).toEqual(rounds[r.height]!.txs.map((id) => txViews.get(id)!.receipt!));
    }
    // The node's signed headers chain and verify too (what makes the roots worth comparing).
    let prev = '0'.repeat(64);
    for (const r of rounds) {
      expect(r.header.prev).toBe(prev);
      const hash = roundHash(r.header);
      expect(toHex(hash)).toBe(r.hash);
      expect(r.signatures.some((s) => s.signer === nodeKey && verifyDigest(nodeKey, hash, s.sig))).toBe(true);
      prev = r.hash;
    }
  });

  test('into a fresh libSQL file: same roots, and the file serves the final state', async () => {
    const db = await openDatabase({ url: `file:${join(tempDir(), 'replay.db')}` });
    try {
      const store = new LibsqlNodeStore(db);
      const result = await replay({ ...replayInput(), store, values: store });
      expect(result.mismatches).toEqual([]);
      expect(compareRoots(result)).toEqual([]);
      // The replayed tree in the fresh file proves the node's final balances against its final root.
      const last = rounds[rounds.length - 1]!.header.stateRoot;
      const tree = new SparseMerkleTree(store);
      for (const k of accounts) {
        const served = await http(node.url, 'GET', `/v1/subtrees/${subtree}/state/${balanceKey(k.publicKey)}`);
        const proof = await tree.prove(fromHex(last, 32), balanceKey(k.publicKey));
        verifyProof(proof, { key: balanceKey(k.publicKey), ...(served.body.exists ? { value: served.body.value } : {}), root: last });
      }
    } finally {
      await db.close();
    }
  });
});

describe('reliability: historical state', () => {
  test('every key at every past height: the value of that time, proven against that height\'s signed root', async () => {
    // Model balances after each round, from genesis and the rounds' transactions in order.
    const byHeight: Map<string, bigint>[] = [new Map(genesis)];
    for (const r of rounds.slice(1)) {
      const txs = r.txs.map((id) => ({ id, sender: txViews.get(id)!.envelope.tx.sender, tx: txViews.get(id)!.envelope.tx as never }));
      byHeight.push(modelTransfers(byHeight[byHeight.length - 1]!, txs).balances);
    }
    const never = `balance/${generateKey().publicKey}`;
    const keys = [...accounts.map((k) => balanceKey(k.publicKey)), SUPPLY_KEY, never];
    const expectedValue = (h: number, key: string): string | undefined => {
      if (key === SUPPLY_KEY) return supply.toString();
      const n = byHeight[h]!.get(key.slice('balance/'.length)) ?? 0n;
      return n === 0n ? undefined : n.toString(); // the token program never stores zero
    };

    const cases = rounds.flatMap((r) => keys.map((key) => ({ h: r.height, key })));
    const answers = await mapLimit(cases, 8, ({ h, key }) => http(node.url, 'GET', `/v1/subtrees/${subtree}/state/${key}?height=${h}`));
    const problems: string[] = [];
    let present = 0;
    let absent = 0;
    answers.forEach((a, i) => {
      const { h, key } = cases[i]!;
      const round = rounds[h]!;
      const want = expectedValue(h, key);
      const at = `h=${h} ${key.slice(0, 24)}`;
      if (a.status !== 200) return void problems.push(`${at}: ${a.status}`);
      const b = a.body;
      if (b.height !== h || b.root !== round.header.stateRoot) problems.push(`${at}: answered height ${b.height} root ${b.root}`);
      if (b.roundHash !== round.hash || JSON.stringify(b.round.header) !== JSON.stringify(round.header)) problems.push(`${at}: other round`);
      if (b.exists !== (want !== undefined) || b.value !== want) problems.push(`${at}: ${JSON.stringify(b.value)}, expected ${want}`);
      try {
        verifyProof(b.proof, { key, ...(want !== undefined ? { value: want } : {}), root: round.header.stateRoot });
      } catch (err) {
        problems.push(`${at}: proof: ${String(err)}`);
      }
      if (want === undefined) absent++;
      else present++;
    });
    expect(problems).toEqual([]);
    expect(present).toBeGreaterThan(0);
    expect(absent).toBeGreaterThan(rounds.length); // `never` at every height plus the emptied/new accounts
    // Account 4 existed at genesis and was emptied later; account 5 appeared: both directions are served.
    const k4 = balanceKey(accounts[4]!.publicKey);
    const k5 = balanceKey(accounts[5]!.publicKey);
    expect(expectedValue(0, k4)).toBe('1');
    expect(rounds.some((r) => expectedValue(r.height, k4) === undefined)).toBe(true);
    expect(expectedValue(0, k5)).toBeUndefined();
    expect(rounds.some((r) => expectedValue(r.height, k5) !== undefined)).toBe(true);

    // A height the subtree has not reached is a 404, never a guess.
    const ahead = await http(node.url, 'GET', `/v1/subtrees/${subtree}/state/${SUPPLY_KEY}?height=${rounds.length}`);
    expect(ahead.status).toBe(404);
    console.log(`[replay/history] rounds=${rounds.length - 1} txs=${txViews.size} stateReads=${cases.length} setup=${setupMs}ms`);
  });
});
