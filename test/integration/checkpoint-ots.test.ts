import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { allAttestations, readDetached, writeDetached } from '../../src/core/ots.ts';
import { toHex } from '../../src/core/hex.ts';
import { runAnchorPass } from '../../src/checkpoint/anchor-worker.ts';
import { getAnchor } from '../../src/store/checkpoints.ts';
import { listEvents } from '../../src/store/index.ts';
import { startLocalCalendar, type LocalCalendar } from '../helpers/ots-calendar.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * OpenTimestamps anchoring against a calendar on 127.0.0.1: pending and upgraded proofs, back-off
 * while the calendar is down, a slow calendar that never blocks rounds or checkpoints.
 */

interface ParsedOts {
  op: string;
  digest: string;
  attestations: { type: string; uri?: string; height?: number; msg: string }[];
  reserialized: string;
}

/**
 * Reads a served `.ots` with the node's own parser (every message recomputed from the file
 * digest). test/interop/ots-reference.test.ts reads the same files with the Python reference
 * implementation.
 */
function readOts(bytes: Uint8Array): ParsedOts {
  const { fileDigest, timestamp } = readDetached(bytes);
  const attestations = allAttestations(timestamp)
    .map(({ msg, attestation: a }) =>
      a.type === 'pending'
        ? { type: 'pending', uri: a.uri, msg: toHex(msg) }
        : a.type === 'bitcoin'
          ? { type: 'bitcoin', height: a.height, msg: toHex(msg) }
          : { type: 'other', msg: toHex(msg) },
    )
    .sort((x, y) => (x.msg < y.msg ? -1 : x.msg > y.msg ? 1 : 0));
  return { op: 'sha256', digest: toHex(fileDigest), attestations, reserialized: toHex(writeDetached(timestamp)) };
}

let s: TestServer;
let cal: LocalCalendar;
const owner = party('ots-owner');
let subtree = '';
let nonce = 0;

async function changeAndCheckpoint() {
  const tx = signedTx(owner, { network: s.network, subtree, nonce: nonce++, call: 'set', args: { key: 'n', value: nonce } });
  expect((await call(s.url, 'POST', '/v1/transactions', { json: tx })).status).toBe(202);
  expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
  const r = (await call(s.url, 'POST', '/v1/checkpoints', { headers: adminHeader() })).body;
  expect(r.status).toBe('built');
  return r as { seq: number; logRoot: string };
}

async function otsOf(seq: number): Promise<{ status: number; bytes: Uint8Array; anchor: string | null }> {
  const res = await fetch(`${s.url}/v1/checkpoints/${seq}/ots`);
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), anchor: res.headers.get('x-anchor-status') };
}

beforeAll(async () => {
  cal = startLocalCalendar();
  s = await startServer({
    env: {
      DSTP_OTS_CALENDARS: cal.url,
      DSTP_OTS_INTERVAL_MS: '40',
      DSTP_OTS_UPGRADE_INTERVAL_MS: '20',
      DSTP_OTS_TIMEOUT_MS: '300',
    },
  });
  const req = subtreeRequest({ network: s.network, owner, name: 'ots', program: 'kv', config: { writers: 'any' }, authority: s.nodeKey });
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() })).status).toBe(201);
  subtree = req.id;
});
afterAll(async () => {
  await s.close();
  await cal.close();
});

describe('OpenTimestamps anchoring', () => {
  let first: { seq: number; logRoot: string };

  test('a checkpoint gets a pending anchor; the calendar answer is served as a standard .ots', async () => {
    first = (await call(s.url, 'POST', '/v1/checkpoints', { headers: adminHeader() })).body;
    expect(first.seq).toBe(0);
    expect((await otsOf(0)).status).toBe(404); // no calendar answered yet
    const r = await runAnchorPass(s.ctx!);
    expect(r).toMatchObject({ attempted: 1, errors: [] });
    expect(cal.counts.digest).toBe(1);
    const ots = await otsOf(0);
    expect(ots.status).toBe(200);
    expect(ots.anchor).toBe('pending');
    const parsed = readOts(ots.bytes);
    expect(parsed.op).toBe('sha256');
    expect(parsed.digest).toBe(first.logRoot);
    // The parser recomputed the path from the log root to the calendar's commitment.
    expect(parsed.attestations).toEqual([{ type: 'pending', uri: cal.url, msg: cal.commitments()[0]! }]);
    expect(parsed.reserialized).toBe(Buffer.from(ots.bytes).toString('hex'));
  });

  test('upgrade: once the calendar mined the commitment, the .ots carries a Bitcoin attestation and the anchor is confirmed', async () => {
    const root = cal.mine(840_000);
    await Bun.sleep(30); // past DSTP_OTS_UPGRADE_INTERVAL_MS
    const r = await runAnchorPass(s.ctx!);
    expect(r.confirmed).toEqual([0]);
    const ots = await otsOf(0);
    expect(ots.anchor).toBe('confirmed');
    const parsed = readOts(ots.bytes);
    expect(parsed.digest).toBe(first.logRoot);
    const btc = parsed.attestations.filter((a) => a.type === 'bitcoin');
    expect(btc).toEqual([{ type: 'bitcoin', height: 840_000, msg: root }]);
    expect(parsed.attestations.some((a) => a.type === 'pending' && a.msg === cal.commitments()[0])).toBe(true);
    expect(parsed.reserialized).toBe(Buffer.from(ots.bytes).toString('hex'));
    const a = await getAnchor(s.ctx!.db, 0);
    expect(a).toMatchObject({ status: 'confirmed', bitcoinHeight: 840_000 });
    const events = (await listEvents(s.ctx!.db, { limit: 1000 })).filter((e) => e.type === 'anchor.confirmed');
    expect(events.map((e) => e.data)).toEqual([{ seq: 0, digest: first.logRoot, bitcoinHeight: 840_000 }]);
    // A confirmed anchor is not attempted again.
    await Bun.sleep(30);
    expect((await runAnchorPass(s.ctx!)).attempted).toBe(0);
  });

  test('calendar down: checkpoints and rounds go on; submission is retried with back-off until it answers; warned once per calendar per back-off step', async () => {
    const warns: Record<string, unknown>[] = [];
    s.ctx!.log.warn = (msg, data) => warns.push({ msg, ...data });
    const warned = new Map<string, number>(); // what the worker keeps across passes
    cal.down = true;
    const cp = await changeAndCheckpoint(); // builds although the calendar is down
    await changeAndCheckpoint();
    const r1 = await runAnchorPass(s.ctx!, { warned });
    expect(r1.errors).toHaveLength(2);
    // Two checkpoints failed at the same calendar and step: one warning.
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ calendar: cal.url, checkpoint: cp.seq, attempt: 1 });
    expect(String(warns[0]!.error)).not.toBe('');
    const a1 = (await getAnchor(s.ctx!.db, cp.seq))!;
    expect(a1).toMatchObject({ status: 'pending', attempts: 1, proof: null, unsubmitted: [cal.url] });
    expect(a1.nextAt).toBeGreaterThan(Date.now());
    expect((await runAnchorPass(s.ctx!, { warned })).attempted).toBe(0); // backing off: not due yet
    await Bun.sleep(Math.max(a1.nextAt, (await getAnchor(s.ctx!.db, cp.seq + 1))!.nextAt) - Date.now() + 5);
    const r2 = await runAnchorPass(s.ctx!, { warned });
    expect(r2.attempted).toBe(2);
    expect(warns.map((w) => w.attempt)).toEqual([1, 2]); // the next step: one more warning
    const a2 = (await getAnchor(s.ctx!.db, cp.seq))!;
    expect(a2.attempts).toBe(2);
    expect(a2.nextAt - a2.updatedAt).toBeGreaterThan((a1.nextAt - a1.updatedAt) * 0.9); // the wait grows
    await changeAndCheckpoint(); // still no blocking
    cal.down = false;
    await Bun.sleep(a2.nextAt - Date.now() + 5);
    await runAnchorPass(s.ctx!, { warned });
    const a3 = (await getAnchor(s.ctx!.db, cp.seq))!;
    expect(a3).toMatchObject({ attempts: 0, unsubmitted: [] });
    expect(warned.has(cal.url)).toBe(false); // it answered: the next failure warns again
    expect(warns).toHaveLength(2);
    const parsed = readOts((await otsOf(cp.seq)).bytes);
    expect(parsed.digest).toBe(cp.logRoot);
  });

  test('slow calendar: the anchor pass times out on its own while rounds and checkpoints complete', async () => {
    cal.delayMs = 2000;
    const seqBefore = (await call(s.url, 'GET', '/v1/checkpoints/latest')).body.checkpoint.seq;
    // Make sure something is due.
    await changeAndCheckpoint();
    await Bun.sleep(50);
    const t0 = performance.now();
    const pass = runAnchorPass(s.ctx!);
    const t1 = performance.now();
    const cp = await changeAndCheckpoint();
    const busy = performance.now() - t1;
    expect(cp.seq).toBeGreaterThan(seqBefore);
    expect(busy).toBeLessThan(1000);
    const r = await pass;
    expect(performance.now() - t0).toBeLessThan(1900); // bounded by DSTP_OTS_TIMEOUT_MS, not the calendar
    expect(r.errors.length).toBeGreaterThan(0);
    cal.delayMs = 0;
  });
});
