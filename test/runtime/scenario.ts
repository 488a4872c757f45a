/**
 * The runtime-matrix scenario, identical input for every runtime: a token subtree created by a
 * fixed owner with the node (fixed key) as PoA authority, then 200 transfers from 10 fixed
 * senders in 10 batches of 20. Each batch is accepted in one request (one group commit), and the
 * next is sent only after its round is final, so every runtime cuts exactly the same rounds.
 * The last batch is accepted while the leader lease is held by an outsider and executed only
 * after it is released and `trigger` runs — on workerd that is the cron handler (`/__scheduled`),
 * and the test checks that nothing else would have run it.
 *
 * What comes back is everything that must not depend on the runtime: per-round roots and tx lists,
 * receipts, state proofs at the head and in history (also ICS-23). Round hashes, `prev` links and
 * signatures are left out: the header's `time` is wall-clock metadata and differs between runs.
 */
import { expect } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signDigestHex } from '../../src/client/sign.ts';
import { digest } from '../../src/core/digest.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import {
  buildSubtreeRequest,
  DstpClient,
  fetchVerifiedState,
  keyFromSecret,
  signSubtreeRequest,
  signTransaction,
  tokenGenesis,
  type KeyPair,
} from '../../src/client/index.ts';
import { sha256 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { balanceKey } from '../../src/core/programs/token.ts';

export const NETWORK = 'dstp-matrix';
export const ADMIN_TOKEN = 'matrix-admin-token-0123456789';
/** The node's ed25519 secret: the same identity under every runtime. */
export const NODE_KEY_HEX = toHex(sha256(utf8('dstp runtime matrix node key')));

const SENDERS = 10;
const BATCHES = 10;
const PER_BATCH = 20; // two transfers per sender per batch

const seeded = (label: string): KeyPair => keyFromSecret('ed25519', toHex(sha256(utf8(`dstp runtime matrix ${label}`))));
export const OWNER = seeded('owner');
export const SENDER_KEYS: readonly KeyPair[] = Array.from({ length: SENDERS }, (_, i) => seeded(`sender ${i}`));

/** Executes SQL against the node's database (a file, or the test libSQL server for workerd). */
export interface DbHandle {
  execute(sql: string, args?: (string | number)[]): Promise<unknown>;
}

export interface ScenarioOptions {
  /** Runs a leader pass by the runtime's own trigger after the lease is released (workerd: /__scheduled). */
  trigger: () => Promise<void>;
  db: DbHandle;
  timeoutMs?: number;
  /** How long the last batch waits under the outsider's lease (default 300 ms). */
  blockedMs?: number;
  /** The runtime has no scheduler of its own (Workers): once released, nothing may happen until `trigger`. */
  triggerOnly?: boolean;
}

export interface RoundView {
  height: number;
  stateRoot: string;
  txRoot: string;
  receiptsRoot: string;
  txCount: number;
  proposer: string;
  network: string;
  subtree: string;
  txs: string[];
}

export interface ScenarioResult {
  subtree: string;
  nodeKey: string;
  rounds: RoundView[];
  txs: { id: string; status: string; height?: number; receipt?: unknown }[];
  /** `${height|head}:${key}` → { exists, value, height, root, proof } */
  proofs: Record<string, unknown>;
  /** Values the untrusting client verified (proof → round → node signature). */
  verified: number;
  /** ms from the first batch to the last round being final. */
  loadMs: number;
  /** A subtree running a user program (examples/programs/token.js): its id, engine, round 1 and receipts with gas. */
  userProgram: { id: string; engine: string; round: RoundView; receipts: unknown[] };
}

function transfer(subtree: string, sender: number, nonce: number) {
  const from = SENDER_KEYS[sender]!;
  // Sender 3 overdraws once: a failed receipt must look the same everywhere too.
  const amount = sender === 3 && nonce === 7 ? '100000' : String(1 + ((sender * 7 + nonce) % 13));
  const to = SENDER_KEYS[(sender + 1 + (nonce % 3)) % SENDERS]!.publicKey;
  return signTransaction({ network: NETWORK, subtree, key: from, nonce, call: 'transfer', args: { to, amount } as Record<string, JsonValue> });
}

async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(15);
  }
}

export async function runScenario(base: string, o: ScenarioOptions): Promise<ScenarioResult> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const client = new DstpClient({ baseUrl: base, adminToken: ADMIN_TOKEN });
  const info = await client.info();
  expect(info.network).toBe(NETWORK);

  const spec = buildSubtreeRequest({
    network: NETWORK,
    owner: OWNER.publicKey,
    name: 'matrix',
    program: 'token',
    config: { symbol: 'MTX', decimals: 0, minter: OWNER.publicKey },
    mode: { type: 'poa', authority: info.publicKey },
    genesis: tokenGenesis(Object.fromEntries(SENDER_KEYS.map((k) => [k.publicKey, 1000]))),
  });
  const head0 = await client.createSubtree(signSubtreeRequest(spec, [OWNER]));
  const subtree = head0.id;
  expect(head0.height).toBe(0);

  const height = async () => (await client.getSubtree(subtree)).height;
  const ids: string[] = [];
  const t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const envs = Array.from({ length: PER_BATCH }, (_, j) => transfer(subtree, j % SENDERS, b * 2 + Math.floor(j / SENDERS)));
    const last = b === BATCHES - 1;
    if (last) await blockLease(o.db);
    const res = await client.submitBatch(envs.map((e) => e.envelope));
    expect(res.status).toBe(202);
    expect(res.items.map((i) => i.id)).toEqual(envs.map((e) => e.id));
    ids.push(...envs.map((e) => e.id));
    if (last) {
      // Nobody may run the round while an outsider holds the lease.
      await Bun.sleep(o.blockedMs ?? 300);
      expect(await height()).toBe(b);
      await releaseLease(o.db);
      if (o.triggerOnly) {
        await Bun.sleep(300);
        expect(await height()).toBe(b); // no timer of its own runs the round…
      }
      await o.trigger(); // …until the trigger does
    }
    await waitUntil(`round ${b + 1}`, timeoutMs, async () => ((await height()) >= b + 1 ? true : undefined));
    // One round per batch: the next batch must not join this one.
    expect(await height()).toBe(b + 1);
  }
  const loadMs = performance.now() - t0;

  const rounds: RoundView[] = [];
  for (let h = 0; h <= BATCHES; h++) {
    const r = await client.getRound(subtree, h);
    const x = r.header;
    rounds.push({
      height: x.height,
      stateRoot: x.stateRoot,
      txRoot: x.txRoot,
      receiptsRoot: x.receiptsRoot,
      txCount: x.txCount,
      proposer: x.proposer,
      network: x.network,
      subtree: x.subtree,
      txs: r.txs ?? [],
    });
  }
  const txs = await Promise.all(
    ids.map(async (id) => {
      const t = await client.getTransaction(id);
      return { id: t.id, status: t.status, ...(t.height !== undefined ? { height: t.height } : {}), ...(t.receipt !== undefined ? { receipt: t.receipt } : {}) };
    }),
  );

  const proofs: Record<string, unknown> = {};
  let verified = 0;
  const keys = [...SENDER_KEYS.map((k) => balanceKey(k.publicKey)), balanceKey(OWNER.publicKey) /* absent */];
  for (const at of [undefined, 1, 5]) {
    for (const key of keys) {
      const { state, verified: v } = await fetchVerifiedState(client, subtree, key, at === undefined ? {} : { height: at });
      expect(v.signers).toEqual([info.publicKey]);
      verified++;
      proofs[`${at ?? 'head'}:${key}`] = { key: state.key, exists: state.exists, value: state.value, height: state.height, root: state.root, proof: state.proof };
    }
  }
  const ics = await client.getState(subtree, balanceKey(SENDER_KEYS[0]!.publicKey), { format: 'ics23' });
  proofs['ics23'] = { root: ics.root, height: ics.height, proof: ics.proof };

  const userProgram = await runUserProgram(client, info.publicKey, o, timeoutMs);
  return { subtree, nodeKey: info.publicKey, rounds, txs, proofs, verified, loadMs, userProgram };
}

/** Uploads the token example as a user program, runs a subtree on it for one round. */
async function runUserProgram(client: DstpClient, nodeKey: string, o: ScenarioOptions, timeoutMs: number): Promise<ScenarioResult['userProgram']> {
  const source = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'programs', 'token.js'), 'utf8');
  const { id, engine } = await client.uploadProgram(source);
  const spec = {
    v: 1, network: NETWORK, parent: ROOT_ID_HEX, owner: OWNER.publicKey, name: 'matrix-js', program: `js:${id}`,
    config: { symbol: 'JS', decimals: 0, minter: OWNER.publicKey }, mode: { type: 'poa', authority: nodeKey },
    genesis: [{ key: balanceKey(SENDER_KEYS[0]!.publicKey), value: '50' }, { key: 'supply', value: '50' }],
  };
  const head = await client.createSubtree({ subtree: spec, sigs: [{ signer: OWNER.publicKey, sig: signDigestHex(OWNER, digest('subtree', spec)) }] } as never);
  // One batch, so the three land in one round on every runtime.
  const envs = ([[0, '20'], [1, '40'], [2, '0']] as const).map(([nonce, amount]) =>
    signTransaction({ network: NETWORK, subtree: head.id, key: SENDER_KEYS[0]!, nonce, call: 'transfer', args: { to: SENDER_KEYS[1]!.publicKey, amount } }),
  );
  expect((await client.submitBatch(envs.map((e) => e.envelope))).status).toBe(202);
  const ids = envs.map((e) => e.id);
  await o.trigger();
  const receipts = await waitUntil('the user-program round', timeoutMs, async () => {
    const rs = await Promise.all(ids.map(async (i) => (await client.getTransaction(i)).receipt));
    return rs.every((r) => r !== undefined) ? rs : undefined;
  });
  const x = (await client.getRound(head.id, 1)).header;
  const round = { height: x.height, stateRoot: x.stateRoot, txRoot: x.txRoot, receiptsRoot: x.receiptsRoot, txCount: x.txCount, proposer: x.proposer, network: x.network, subtree: x.subtree, txs: [] };
  return { id, engine, round, receipts };
}

async function blockLease(db: DbHandle): Promise<void> {
  await db.execute(
    `INSERT INTO lease (name, holder, token, expires_at) VALUES ('leader', 'matrix-blocker', 1, ?)
     ON CONFLICT (name) DO UPDATE SET holder = 'matrix-blocker', token = lease.token + 1, expires_at = excluded.expires_at`,
    [Date.now() + 3_600_000],
  );
}

async function releaseLease(db: DbHandle): Promise<void> {
  await db.execute("UPDATE lease SET expires_at = 0 WHERE name = 'leader' AND holder = 'matrix-blocker'");
}
