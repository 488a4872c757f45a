import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAnchorPass } from '../../src/checkpoint/anchor-worker.ts';
import { getAnchor } from '../../src/store/checkpoints.ts';
import { listEvents } from '../../src/store/index.ts';
import { startLocalCalendar, type LocalCalendar } from '../helpers/ots-calendar.ts';
import { PYTHON, requirePythonOpentimestamps } from './prerequisites.ts';
import { adminHeader, call, party, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * OpenTimestamps anchoring against a calendar on 127.0.0.1 (the anchoring itself, back-off and
 * timeouts are tested in test/integration/checkpoint-ots.test.ts). The `.ots` files the node serves are
 * read with the reference implementation, Debian's python3-opentimestamps (an implementation we
 * did not write): it must deserialize them, recompute every commitment from the file digest (the
 * log root), and reach the calendar's commitment and the mined block's merkle root.
 */

const READ_OTS = `
import sys, json
from opentimestamps.core.serialize import StreamDeserializationContext, BytesSerializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile
from opentimestamps.core.notary import PendingAttestation, BitcoinBlockHeaderAttestation
with open(sys.argv[1], 'rb') as f:
    d = DetachedTimestampFile.deserialize(StreamDeserializationContext(f))
out = {'op': str(d.file_hash_op), 'digest': d.file_digest.hex(), 'attestations': []}
for msg, att in sorted(d.timestamp.all_attestations(), key=lambda x: x[0]):
    if isinstance(att, PendingAttestation):
        out['attestations'].append({'type': 'pending', 'uri': att.uri, 'msg': msg.hex()})
    elif isinstance(att, BitcoinBlockHeaderAttestation):
        out['attestations'].append({'type': 'bitcoin', 'height': att.height, 'msg': msg.hex()})
    else:
        out['attestations'].append({'type': 'other', 'msg': msg.hex()})
ctx = BytesSerializationContext()
d.serialize(ctx)
out['reserialized'] = ctx.getbytes().hex()
print(json.dumps(out))
`;

interface PyOts {
  op: string;
  digest: string;
  attestations: { type: string; uri?: string; height?: number; msg: string }[];
  reserialized: string;
}

async function readWithReference(bytes: Uint8Array, dir: string, name: string): Promise<PyOts> {
  requirePythonOpentimestamps();
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const proc = Bun.spawn([PYTHON, '-c', READ_OTS, file], { stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`python3-opentimestamps could not read ${name} :\n${err}`);
  return JSON.parse(out) as PyOts;
}

let s: TestServer;
let cal: LocalCalendar;
const owner = party('ots-owner');
let subtree = '';

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

describe('OpenTimestamps: the reference implementation reads the node\'s .ots files', () => {
  test('prerequisite: python3-opentimestamps', () => {
    requirePythonOpentimestamps();
  });

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
    const py = await readWithReference(ots.bytes, s.dir, 'cp0-pending.ots');
    expect(py.op).toBe('sha256');
    expect(py.digest).toBe(first.logRoot);
    // The reference library recomputed the path from the log root to the calendar's commitment.
    expect(py.attestations).toEqual([{ type: 'pending', uri: cal.url, msg: cal.commitments()[0]! }]);
    expect(py.reserialized).toBe(Buffer.from(ots.bytes).toString('hex'));
  });

  test('upgrade: once the calendar mined the commitment, the .ots carries a Bitcoin attestation and the anchor is confirmed', async () => {
    const root = cal.mine(840_000);
    await Bun.sleep(30); // past DSTP_OTS_UPGRADE_INTERVAL_MS
    const r = await runAnchorPass(s.ctx!);
    expect(r.confirmed).toEqual([0]);
    const ots = await otsOf(0);
    expect(ots.anchor).toBe('confirmed');
    const py = await readWithReference(ots.bytes, s.dir, 'cp0-confirmed.ots');
    expect(py.digest).toBe(first.logRoot);
    const btc = py.attestations.filter((a) => a.type === 'bitcoin');
    expect(btc).toEqual([{ type: 'bitcoin', height: 840_000, msg: root }]);
    expect(py.attestations.some((a) => a.type === 'pending' && a.msg === cal.commitments()[0])).toBe(true);
    expect(py.reserialized).toBe(Buffer.from(ots.bytes).toString('hex'));
    const a = await getAnchor(s.ctx!.db, 0);
    expect(a).toMatchObject({ status: 'confirmed', bitcoinHeight: 840_000 });
    const events = (await listEvents(s.ctx!.db, { limit: 1000 })).filter((e) => e.type === 'anchor.confirmed');
    expect(events.map((e) => e.data)).toEqual([{ seq: 0, digest: first.logRoot, bitcoinHeight: 840_000 }]);
    // A confirmed anchor is not attempted again.
    await Bun.sleep(30);
    expect((await runAnchorPass(s.ctx!)).attempted).toBe(0);
  });
});
