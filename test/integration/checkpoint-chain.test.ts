import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { runAnchorPass } from '../../src/checkpoint/anchor-worker.ts';
import { main } from '../../src/cli/main.ts';
import { verifyChainResponse, type ChainResponse, type VerifyChainOptions } from '../../src/client/verify-chain.ts';
import { VerificationError } from '../../src/client/verify.ts';
import { fromBase64, toBase64 } from '../../src/core/note.ts';
import { startLocalCalendar, type LocalCalendar } from '../helpers/ots-calendar.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * The full proof chain (SPEC §9): value → state root → signed round → global tree → signed
 * checkpoint → checkpoint log → signed note → .ots, verified offline by the SDK and `dstp verify
 * --chain`; every link is tampered with once and the verifier must name exactly that link.
 */

let s: TestServer;
let cal: LocalCalendar;
const owner = party('chain-owner');
let subtree = '';
let request: unknown;
let info: { publicKey: string; origin: string; network: string };
let blockRoot = '';

const tick = () => call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
const build = async () => (await call(s.url, 'POST', '/v1/checkpoints', { headers: adminHeader() })).body;

beforeAll(async () => {
  cal = startLocalCalendar();
  s = await startServer({ env: { DSTP_OTS_CALENDARS: cal.url, DSTP_OTS_UPGRADE_INTERVAL_MS: '20', DSTP_OTS_TIMEOUT_MS: '2000' } });
  info = (await call(s.url, 'GET', '/v1/info')).body;
  const other = party('chain-other');
  for (const name of ['chain', 'neighbour']) {
    const o = name === 'chain' ? owner : other;
    const req = subtreeRequest({ network: s.network, owner: o, name, program: 'kv', config: { writers: 'any' }, authority: s.nodeKey, genesis: [{ key: 'kv/x', value: 0 }] });
    expect((await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() })).status).toBe(201);
    if (name === 'chain') {
      subtree = req.id;
      // The stored request carries the node's signature as authority too.
      request = (await call(s.url, 'GET', `/v1/subtrees/${req.id}`)).body.request;
    }
  }
  for (let i = 0; i < 3; i++) {
    const tx = signedTx(owner, { network: s.network, subtree, nonce: i, call: 'set', args: { key: 'x', value: i + 1 } });
    expect((await call(s.url, 'POST', '/v1/transactions', { json: tx })).status).toBe(202);
    await tick();
    expect((await build()).status).toBe('built');
    await runAnchorPass(s.ctx!);
  }
  blockRoot = cal.mine(900_000);
  await Bun.sleep(30);
  await runAnchorPass(s.ctx!);
});
afterAll(async () => {
  await s.close();
  await cal.close();
});

const getChain = async (q = ''): Promise<ChainResponse> => {
  const r = await call(s.url, 'GET', `/v1/subtrees/${subtree}/chain/kv/x${q}`);
  expect(r.status).toBe(200);
  return r.body;
};

const opts = (): VerifyChainOptions => ({ key: 'kv/x', subtree, request, nodeKey: info.publicKey, origin: info.origin, requireBitcoin: true });

describe('proof chain', () => {
  test('verifies end to end, up to the Bitcoin attestation, naming every link', async () => {
    const chain = await getChain();
    expect(chain.chain.log.size).toBe(3);
    expect(chain.value).toBe(3);
    const v = await verifyChainResponse(chain, { ...opts(), expectedValue: 3, bitcoinMerkleRoots: { 900_000: blockRoot } });
    expect(v.links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree', 'global', 'checkpoint', 'log', 'note', 'ots']);
    expect(v.attestations.find((a) => a.type === 'bitcoin')).toEqual({ type: 'bitcoin', height: 900_000, msg: blockRoot });
  });

  test('an older checkpoint inside a larger log: real inclusion path, value at that checkpoint', async () => {
    const chain = await getChain('?seq=0&size=3');
    expect(chain.chain.global.seq).toBe(0);
    expect(chain.value).toBe(1);
    expect(chain.chain.log.proof.length).toBeGreaterThan(0);
    const v = await verifyChainResponse(chain, opts());
    expect(v.checkpoint.seq).toBe(0);
    expect(v.logSize).toBe(3);
  });

  type Tamper = [link: string, what: string, f: (c: ChainResponse) => void];
  const flipHex = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
  const tampers: Tamper[] = [
    ['proof', 'value', (c) => (c.value = 99)],
    ['proof', 'state proof sibling', (c) => (c.proof.siblings[0] = flipHex(c.proof.siblings[0]!))],
    ['round', 'round header stateRoot', (c) => (c.round!.header.stateRoot = flipHex(c.round!.header.stateRoot))],
    ['signatures', 'round signature', (c) => (c.round!.signatures[0]!.sig = flipHex(c.round!.signatures[0]!.sig))],
    ['global', 'global entry height', (c) => ((c.chain.global.entry as { height: number }).height += 1)],
    ['global', 'global proof root', (c) => (c.chain.global.globalRoot = flipHex(c.chain.global.globalRoot))],
    ['checkpoint', 'checkpoint time', (c) => ((c.chain.checkpoint.checkpoint as { time: number }).time += 1)],
    ['checkpoint', 'checkpoint signature', (c) => (c.chain.checkpoint.sig = flipHex(c.chain.checkpoint.sig))],
    ['log', 'inclusion path', (c) => (c.chain.log.proof[0] = flipHex(c.chain.log.proof[0]!))],
    ['log', 'log root', (c) => (c.chain.log.root = flipHex(c.chain.log.root))],
    ['note', 'note size line', (c) => (c.chain.note = c.chain.note.replace('\n3\n', '\n4\n'))],
    ['note', 'note signature', (c) => (c.chain.note = c.chain.note.replace(/ (\S+)\n$/, (_, b64: string) => ` ${b64.slice(0, 10)}${b64[10] === 'A' ? 'B' : 'A'}${b64.slice(11)}\n`))],
    [
      'ots',
      '.ots file digest',
      (c) => {
        const b = fromBase64(c.chain.ots!)!;
        b[40]! ^= 1; // inside the 32-byte file digest after the 31-byte magic, version and op
        c.chain.ots = toBase64(b);
      },
    ],
    [
      'ots',
      '.ots commitment path (an append argument)',
      (c) => {
        const b = fromBase64(c.chain.ots!)!;
        // Tree starts at 65 (31 magic + version + op + 32 digest): f0 10 <16-byte calendar nonce> 08 …
        expect([b[65], b[66]]).toEqual([0xf0, 0x10]);
        b[70]! ^= 1; // every message below moves, so the Bitcoin attestation's is no longer the block's merkle root
        c.chain.ots = toBase64(b);
      },
    ],
  ];

  for (const [link, what, tamper] of tampers) {
    test(`tampered ${what} → the verifier names link "${link}"`, async () => {
      const chain = await getChain('?seq=0&size=3');
      tamper(chain);
      let err: unknown;
      try {
        await verifyChainResponse(chain, { ...opts(), bitcoinMerkleRoots: { 900_000: blockRoot } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).link).toBe(link as VerificationError['link']);
    });
  }

  test('a forged creation request → link "subtree"', async () => {
    const chain = await getChain();
    const forged = structuredClone(request) as { sigs: { sig: string }[] };
    forged.sigs[0]!.sig = flipHex(forged.sigs[0]!.sig);
    await expect(verifyChainResponse(chain, { ...opts(), request: forged })).rejects.toMatchObject({ link: 'subtree' });
  });

  test('a wrong trusted node key or origin → link "checkpoint" / "note"', async () => {
    const chain = await getChain();
    const stranger = party('stranger').key;
    await expect(verifyChainResponse(chain, { ...opts(), nodeKey: stranger })).rejects.toMatchObject({ link: 'checkpoint' });
    await expect(verifyChainResponse(chain, { ...opts(), origin: 'elsewhere.example/log' })).rejects.toMatchObject({ link: 'note' });
  });

  test('dstp verify --chain checks the chain and reports the failing link', async () => {
    const outs: unknown[] = [];
    const errs: string[] = [];
    const io = {
      out: (v: unknown) => outs.push(v),
      note: () => undefined,
      stdout: () => undefined,
      stderr: (l: string) => errs.push(l),
      env: {},
    };
    const code = await main(['verify', '--chain', '--node', s.url, '--subtree', subtree, '--key', 'kv/x', '--require-bitcoin', '--expect', '3'], io);
    expect({ code, errs }).toEqual({ code: 0, errs: [] });
    expect(outs[0]).toMatchObject({ ok: true, ots: 'bitcoin' });
    expect((outs[0] as { links: { link: string }[] }).links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree', 'global', 'checkpoint', 'log', 'note', 'ots']);
    const bad = await main(['verify', '--chain', '--node', s.url, '--subtree', subtree, '--key', 'kv/x', '--node-key', party('stranger').key, '--origin', info.origin], io);
    expect(bad).toBe(1);
    expect(errs.at(-1)).toContain('link "checkpoint"');
  });

  test('nested or unknown subtrees and missing checkpoints answer 404', async () => {
    expect((await call(s.url, 'GET', `/v1/subtrees/${'ab'.repeat(32)}/chain/kv/x`)).status).toBe(404);
    expect((await call(s.url, 'GET', `/v1/subtrees/${subtree}/chain/kv/x?seq=5`)).status).toBe(400);
    expect((await call(s.url, 'GET', `/v1/subtrees/${subtree}/chain/kv/x?size=9`)).status).toBe(404);
  });
});
