/**
 * Webhooks survive crashes: real node processes on a kept libSQL file are SIGKILLed between the
 * commit of a round (its outbox events) and the delivery, and in the middle of sends. After a
 * restart every event reaches a real receiver on 127.0.0.1 (verifying with `standardwebhooks`),
 * each under one stable webhook-id, and a receiver deduplicating by that id sees it exactly once.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey, type KeyPair } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { startReceiver, type Receiver } from '../integration/webhooks-receiver.ts';
import { ADMIN_TOKEN, cleanupAll, countPending, createTokenSubtree, http, openReader, spawnNode, tempDir, transfer, waitFor, type NodeProc } from './harness.ts';

const receivers: Receiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await cleanupAll();
});

const EVENTS = ['tx.executed', 'tx.failed', 'round.finalized'];
const WEBHOOK_ENV = {
  DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
  DSTP_WEBHOOK_TIMEOUT_MS: '500',
  DSTP_WEBHOOK_BACKOFF_MS: '30',
  DSTP_WEBHOOK_BACKOFF_MAX_MS: '200',
  DSTP_WEBHOOK_MAX_ATTEMPTS: '100',
  DSTP_WEBHOOK_INTERVAL_MS: '50',
};

interface Setup {
  dbPath: string;
  nodeKeyHex: string;
  node: NodeProc;
  subtree: string;
  senders: KeyPair[];
  nonces: number[];
  webhook: string;
  secret: string;
}

async function setup(rcv: Receiver): Promise<Setup> {
  const dir = tempDir('dstp-wh-');
  const dbPath = join(dir, 'node.db');
  const nodeKeyHex = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const node = await spawnNode({ dbPath, nodeKeyHex, leaseTtlMs: 800, log: 'debug', env: WEBHOOK_ENV });
  const nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
  const senders = Array.from({ length: 4 }, () => generateKey('ed25519'));
  const st = await createTokenSubtree(node.url, {
    owner: generateKey('ed25519'),
    authority: nodeKey,
    name: 'hooks',
    balances: Object.fromEntries(senders.map((s, i) => [s.publicKey, i === 0 ? 2n : 1000n])),
  });
  const w = await http(node.url, 'POST', '/v1/webhooks', { admin: true, json: { url: rcv.url, events: EVENTS } });
  expect(w.status).toBe(201);
  rcv.secrets = [w.body.secret];
  return { dbPath, nodeKeyHex, node, subtree: st.id, senders, nonces: senders.map(() => 0), webhook: w.body.id, secret: w.body.secret };
}

/** Sends `perSender` transfers from each sender (sender 0 is poor: some wait for admission, some fail in execution). */
async function sendTransfers(s: Setup, perSender: number): Promise<void> {
  await Promise.all(
    s.senders.map(async (key, i) => {
      for (let k = 0; k < perSender; k++) {
        const to = s.senders[(i + 1) % s.senders.length]!.publicKey;
        const { envelope } = transfer(s.subtree, key, s.nonces[i]!, to, String(1 + (k % 3)));
        let res = await http(s.node.url, 'POST', '/v1/transactions', { json: envelope });
        // Sender 0 may be refused at the door (admission: it cannot pay yet) until it is paid.
        for (let wait = 0; res.status === 409 && res.body.admission === true && wait < 500; wait++) {
          await Bun.sleep(20);
          res = await http(s.node.url, 'POST', '/v1/transactions', { json: envelope });
        }
        expect(res.status).toBe(202);
        s.nonces[i]!++;
      }
    }),
  );
}

async function allExecuted(s: Setup): Promise<void> {
  await waitFor('every transaction executed', async () => ((await countPending(s.dbPath, s.subtree)) === 0 ? true : undefined), 15_000);
}

/** The events the subscription must receive, by seq, read from the outbox itself. */
async function expectedSeqs(s: Setup): Promise<number[]> {
  const r = await openReader(s.dbPath);
  try {
    const rows = await r.all(
      `SELECT seq FROM events WHERE type IN ('tx.executed', 'tx.failed', 'round.finalized')
         AND seq > (SELECT from_seq FROM webhook_subscriptions WHERE id = ?) ORDER BY seq`,
      [s.webhook],
    );
    return rows.map((x) => Number(x.seq));
  } finally {
    r.close();
  }
}

async function deliveryStates(s: Setup): Promise<Record<string, number>> {
  const r = await openReader(s.dbPath);
  try {
    const rows = await r.all('SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status');
    return Object.fromEntries(rows.map((x) => [String(x.status), Number(x.n)]));
  } finally {
    r.close();
  }
}

/** Every expected event arrived exactly once after dedupe, with the id `msg_<webhook>_<seq>`. */
function checkExactlyOnce(s: Setup, rcv: Receiver, expected: number[]): void {
  expect(rcv.verifyFailures).toEqual([]);
  const prefix = `msg_${s.webhook.slice(3)}_`;
  const got = rcv.accepted.map((e) => {
    expect(e.id.startsWith(prefix)).toBe(true);
    return Number(e.id.slice(prefix.length));
  });
  expect(new Set(got).size).toBe(got.length);
  expect([...got].sort((a, b) => a - b)).toEqual(expected);
}

function noSecretInLogs(s: Setup, ...nodes: NodeProc[]): void {
  const raw = s.secret.slice('whsec_'.length);
  for (const n of nodes) {
    expect(n.stderr()).not.toContain(raw);
    expect(n.stderr()).not.toContain(ADMIN_TOKEN);
  }
}

describe('reliability: webhooks across kill -9', () => {
  test('events committed while the receiver is down survive a kill -9 and are all delivered after restart', async () => {
    const rcv = await startReceiver();
    receivers.push(rcv);
    const s = await setup(rcv);
    await rcv.down();
    await sendTransfers(s, 10);
    await allExecuted(s);
    const expected = await expectedSeqs(s);
    expect(expected.length).toBeGreaterThanOrEqual(41); // 40 transactions and at least one round
    const before = await deliveryStates(s);
    expect(before.delivered ?? 0).toBe(0);
    await s.node.kill9();

    await rcv.up();
    const again = await spawnNode({ dbPath: s.dbPath, nodeKeyHex: s.nodeKeyHex, leaseTtlMs: 800, log: 'debug', env: WEBHOOK_ENV });
    await rcv.until(() => rcv.acceptedIds.size >= expected.length, 20_000, `${expected.length} deliveries after restart`);
    await waitFor('rows delivered', async () => ((await deliveryStates(s)).delivered === expected.length ? true : undefined), 10_000);
    checkExactlyOnce(s, rcv, expected);
    expect(await deliveryStates(s)).toEqual({ delivered: expected.length });
    noSecretInLogs(s, s.node, again);
    await again.stop();
  }, 60_000);

  test('kill -9 during sends (claims held, answers lost) and again under load: redelivered with the same ids, nothing lost', async () => {
    const rcv = await startReceiver();
    receivers.push(rcv);
    const s = await setup(rcv);
    // 1. Requests in flight when the process dies: the receiver holds them.
    rcv.behaviour = { kind: 'hang' };
    await sendTransfers(s, 3);
    await allExecuted(s);
    await rcv.until(() => rcv.requests >= 4, 10_000, 'hanging requests (the per-endpoint limit)');
    await s.node.kill9();
    const inFlight = new Set(rcv.seen.keys());
    rcv.behaviour = { kind: 'status', status: 200, delayMs: 5 };
    rcv.releaseHung(); // the receiver processed them; the dead node never heard back

    // 2. Restart, load, and kill again a few times while deliveries flow.
    const nodes: NodeProc[] = [s.node];
    for (let round = 0; round < 3; round++) {
      s.node = await spawnNode({ dbPath: s.dbPath, nodeKeyHex: s.nodeKeyHex, leaseTtlMs: 800, log: 'debug', env: WEBHOOK_ENV });
      nodes.push(s.node);
      await sendTransfers(s, 4);
      await Bun.sleep(100 + round * 150);
      await s.node.kill9();
    }
    s.node = await spawnNode({ dbPath: s.dbPath, nodeKeyHex: s.nodeKeyHex, leaseTtlMs: 800, log: 'debug', env: WEBHOOK_ENV });
    nodes.push(s.node);
    await allExecuted(s);
    const expected = await expectedSeqs(s);
    await rcv.until(() => rcv.acceptedIds.size >= expected.length, 30_000, `${expected.length} deliveries`);
    await waitFor('rows delivered', async () => ((await deliveryStates(s)).delivered === expected.length ? true : undefined), 15_000);
    checkExactlyOnce(s, rcv, expected);
    expect(await deliveryStates(s)).toEqual({ delivered: expected.length });
    // The sends cut by the first kill came again under the same id and were dropped as duplicates.
    expect(inFlight.size).toBeGreaterThanOrEqual(4);
    for (const id of inFlight) expect(rcv.seen.get(id)).toBeGreaterThanOrEqual(2);
    expect(rcv.duplicates).toBeGreaterThanOrEqual(inFlight.size);
    noSecretInLogs(s, ...nodes);
    await s.node.stop();
  }, 60_000);
});
