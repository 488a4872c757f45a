import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { runAnchorPass } from '../../src/checkpoint/anchor-worker.ts';
import { digest } from '../../src/core/digest.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import { jcs } from '../../src/core/jcs.ts';
import { signDigest } from '../../src/core/keys.ts';
import { sha256 } from '../../src/core/hash.ts';
import { ROOT_ID_HEX } from '../../src/core/object-id.ts';
import { listEvents } from '../../src/store/events.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/event-types.ts';
import { startLocalCalendar, type LocalCalendar } from '../helpers/ots-calendar.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type Party, type TestServer } from '../helpers/server.ts';
import { startReceiver, waitFor, type Receiver } from './webhooks-receiver.ts';

/**
 * Every event type reaches a real receiver (verifying with `standardwebhooks`) when the node
 * itself makes the change: transactions and rounds through the API and the leader, a multisig
 * subtree whose proposals expire until it halts (and a threshold-signed resume), a checkpoint
 * built over the API, and its OpenTimestamps anchor confirmed by a calendar on 127.0.0.1. No event
 * is written by the test: each comes from the transaction that made the change. At the end the
 * receiver's deliveries must match the outbox exactly, once each.
 */
const admin = adminHeader();
let s: TestServer;
let cal: LocalCalendar;
let rcv: Receiver;
let webhook = '';
const alice = party('wh-ev-alice');
const bob = party('wh-ev-bob');
const signers = [party('wh-ev-s1'), party('wh-ev-s2'), party('wh-ev-s3')];

beforeAll(async () => {
  cal = startLocalCalendar();
  [s, rcv] = await Promise.all([
    startServer({
      env: {
        DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
        DSTP_WEBHOOK_INTERVAL_MS: '20',
        DSTP_OTS_CALENDARS: cal.url,
        DSTP_OTS_UPGRADE_INTERVAL_MS: '20',
        DSTP_OTS_TIMEOUT_MS: '500',
      },
    }),
    startReceiver(),
  ]);
  const w = await call(s.url, 'POST', '/v1/webhooks', { json: { url: rcv.url, events: [...WEBHOOK_EVENT_TYPES] }, headers: admin });
  expect(w.status).toBe(201);
  webhook = w.body.id;
  rcv.secrets = [w.body.secret];
});

afterAll(async () => {
  await Promise.all([s?.close(), rcv?.close(), cal?.close()]);
});

const tick = async () => {
  const r = await call(s.url, 'POST', '/v1/leader/tick', { headers: admin });
  expect(r.status).toBe(200);
  return r.body as { rounds: { subtree: string; height: number; hash: string }[] };
};
const arrived = (type: string) => rcv.accepted.filter((e) => e.type === type);
const untilArrived = (type: string, n: number) => rcv.until(() => arrived(type).length >= n, 10_000, `${n} × ${type}`);
const sign = (p: Party, d: Uint8Array) => toHex(signDigest(p.scheme, p.secret, d));

describe('each event type, caused by the change it reports, arrives signed at a receiver', () => {
  let coin = '';

  test('subtree.created, tx.executed, tx.failed, round.finalized', async () => {
    const c = subtreeRequest({
      network: s.network,
      owner: alice,
      name: 'ev-coin',
      program: 'token',
      config: { symbol: 'EV', decimals: 0, minter: alice.key },
      authority: s.nodeKey,
      genesis: [
        { key: `balance/${alice.key}`, value: '5' },
        { key: 'supply', value: '5' },
      ],
    });
    coin = c.id;
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: c.body, headers: admin })).status).toBe(201);
    await untilArrived('subtree.created', 1);
    expect(arrived('subtree.created')[0]!.data).toMatchObject({ subtree: coin, owner: alice.key, name: 'ev-coin', program: 'token' });

    const ok = signedTx(alice, { network: s.network, subtree: coin, nonce: 0, call: 'transfer', args: { to: bob.key, amount: '2' } });
    const bad = signedTx(alice, { network: s.network, subtree: coin, nonce: 1, call: 'transfer', args: { to: bob.key, amount: '4' } }); // admitted (4 ≤ 5), fails after ok
    const ids: string[] = [];
    for (const env of [ok, bad]) {
      const r = await call(s.url, 'POST', '/v1/transactions', { json: env });
      expect(r.status).toBe(202);
      ids.push(r.body.id);
    }
    const { rounds } = await tick();
    expect(rounds).toHaveLength(1);
    await untilArrived('round.finalized', 1);
    await untilArrived('tx.failed', 1);
    await untilArrived('tx.executed', 1);
    // What the API says about each transaction is what the webhook said.
    const served = await call(s.url, 'GET', `/v1/transactions/${ids[1]}`);
    expect(served.body.status).toBe('failed');
    expect(arrived('tx.executed')[0]!.data).toMatchObject({ subtree: coin, tx: ids[0], height: 1, index: 0 });
    expect(arrived('tx.failed')[0]!.data).toMatchObject({ subtree: coin, tx: ids[1], height: 1, index: 1, code: served.body.receipt.code });
    expect(arrived('round.finalized')[0]!.data).toMatchObject({ subtree: coin, height: 1, hash: rounds[0]!.hash, txCount: 2 });
  });

  test('proposal.expired (×3), subtree.halted, then subtree.resumed', async () => {
    const spec = {
      v: 1,
      network: s.network,
      parent: ROOT_ID_HEX,
      owner: alice.key,
      name: 'ev-ms',
      program: 'kv',
      config: { writers: 'any' },
      mode: { type: 'multisig', signers: signers.map((p) => p.key), threshold: 2, proposalTimeoutMs: 1000 },
      genesis: [{ key: 'kv/start', value: 0 }],
    };
    const d = digest('subtree', spec);
    const created = await call(s.url, 'POST', '/v1/subtrees', {
      json: { subtree: spec, sigs: [alice, signers[0]!, signers[1]!].map((p) => ({ signer: p.key, sig: sign(p, d) })) },
    });
    expect(created.status).toBe(201);
    const ms = created.body.id as string;
    const tx = signedTx(bob, { network: s.network, subtree: ms, nonce: 0, call: 'set', args: { key: 'x', value: 1 } });
    expect((await call(s.url, 'POST', '/v1/transactions', { json: tx })).status).toBe(202);
    await tick(); // proposes; nobody co-signs
    const proposals: string[] = [];
    for (let i = 0; i < 3; i++) {
      const open = (await call(s.url, 'GET', `/v1/subtrees/${ms}/proposals?status=open`)).body.items[0];
      proposals.push(open.hash);
      // Two signers vote to expire it: their certificate expires it (SPEC §5, not the node's clock).
      for (const p of [signers[1]!, signers[2]!]) {
        const expire = { v: 1, network: s.network, subtree: ms, height: 1, round: open.hash };
        const r = await call(s.url, 'POST', `/v1/subtrees/${ms}/rounds/1/expiries`, { json: { signer: p.key, round: open.hash, sig: sign(p, digest('expire', expire)) } });
        expect(r.status).toBeLessThan(300);
      }
      await tick(); // proposes again, until the third expiry halts
    }
    await untilArrived('proposal.expired', 3);
    await untilArrived('subtree.halted', 1);
    expect(arrived('proposal.expired').map((e) => [e.data.subtree, e.data.height, e.data.hash])).toEqual(proposals.map((h) => [ms, 1, h]));
    const head = (await call(s.url, 'GET', `/v1/subtrees/${ms}`)).body;
    expect(head.status).toBe('halted');
    expect(arrived('subtree.halted')[0]!.data).toMatchObject({ subtree: ms, height: 0, expiries: 3 });

    const rv = (await call(s.url, 'GET', `/v1/subtrees/${ms}/resume`)).body;
    const rd = sha256(concatBytes(utf8('DSTP/resume/v1\n'), utf8(jcs(rv.resume))));
    const resumed = await call(s.url, 'POST', `/v1/subtrees/${ms}/resume`, {
      json: { sigs: [signers[0]!, signers[2]!].map((p) => ({ signer: p.key, sig: sign(p, rd) })) },
    });
    expect([resumed.status, resumed.body.status]).toEqual([200, 'active']);
    await untilArrived('subtree.resumed', 1);
    expect(arrived('subtree.resumed')[0]!.data).toMatchObject({ subtree: ms, height: 0, halt: arrived('subtree.halted')[0]!.data.halt });
  }, 20_000);

  test('checkpoint.created, then anchor.confirmed once the calendar has mined it', async () => {
    const cp = await call(s.url, 'POST', '/v1/checkpoints', { headers: admin });
    expect(cp.body.status).toBe('built');
    await untilArrived('checkpoint.created', 1);
    expect(arrived('checkpoint.created').at(-1)!.data).toMatchObject({ seq: cp.body.seq, logRoot: cp.body.logRoot });

    expect((await runAnchorPass(s.ctx!)).errors).toEqual([]); // submits the log root to the calendar
    cal.mine(850_000);
    await waitFor(async () => {
      await Bun.sleep(25); // past DSTP_OTS_UPGRADE_INTERVAL_MS
      return (await runAnchorPass(s.ctx!)).confirmed.includes(cp.body.seq);
    }, 10_000, 'the anchor confirmed');
    await untilArrived('anchor.confirmed', 1);
    expect(arrived('anchor.confirmed')[0]!.data).toMatchObject({ seq: cp.body.seq, digest: cp.body.logRoot, bitcoinHeight: 850_000 });
  });

  test('the receiver got exactly the outbox: every event once, under id msg_<webhook>_<seq>, every type covered', async () => {
    const outbox = (await listEvents(s.ctx!.db, { limit: 10_000 })).filter((e) => e.type !== 'webhook.test');
    await rcv.until(() => rcv.accepted.length >= outbox.length, 10_000, `${outbox.length} events`);
    await Bun.sleep(100); // nothing more may come
    expect(rcv.verifyFailures).toEqual([]);
    expect(rcv.duplicates).toBe(0);
    const prefix = `msg_${webhook.slice(3)}_`;
    const got = rcv.accepted.map((e) => ({ seq: Number(e.id.slice(prefix.length)), type: e.type, data: e.data }));
    expect(rcv.accepted.every((e) => e.id.startsWith(prefix))).toBe(true);
    expect(got.sort((a, b) => a.seq - b.seq)).toEqual(outbox.map((e) => ({ seq: e.seq, type: e.type, data: e.data })));
    // follow.synced / follow.halted need a second node: test/follow/lies.test.ts covers them.
    expect(new Set(got.map((e) => e.type))).toEqual(new Set(WEBHOOK_EVENT_TYPES.filter((t) => !t.startsWith('follow.'))));
  });
});
