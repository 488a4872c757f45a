/**
 * Nested subtrees (SPEC §3, issue 5) against a real in-process node on 127.0.0.1 with a libSQL
 * file; leader passes are driven with POST /v1/leader/tick. A child's id is objectId(parent,
 * owner, name); the parent's state carries the child's latest final round under
 * `sys/child/<child>` after the parent's next round; only top-level subtrees enter the global
 * tree; a replay of the parent's log alone yields its roots; a multisig parent is co-signed by
 * the co-signer library, which re-executes the node's `sys_child` calls.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubtreeRequest, DstpClient, generateKey, signSubtreeRequest, signTransaction, type KeyPair, type SubtreeDraft } from '../../src/client/index.ts';
import { verifyChainResponse, type ChainResponse, type VerifyChainOptions } from '../../src/client/verify-chain.ts';
import { VerificationError, verifyStateResponse } from '../../src/client/verify.ts';
import { main } from '../../src/cli/main.ts';
import { Cosigner } from '../../src/cosigner/index.ts';
import { digest } from '../../src/core/digest.ts';
import { sha256 } from '../../src/core/hash.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/hex.ts';
import type { JsonValue } from '../../src/core/jcs.ts';
import { signDigest } from '../../src/core/keys.ts';
import { replay } from '../../src/core/replay.ts';
import { MemoryNodeStore } from '../helpers/memory-node-store.ts';
import { parseRoundHeader, roundHash } from '../../src/core/round.ts';
import { parseSubtreeRequest } from '../../src/core/subtree-request.ts';
import { NATIVE_PROGRAMS } from '../../src/core/programs/native.ts';
import { openDatabase } from '../../src/store/db.ts';
import type { Database } from '../../src/store/index.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let client: DstpClient;
const owner = generateKey('ed25519');
const stranger = generateKey('ed25519');
let parent = '';
let child = '';
let grandchild = '';
const nonces = new Map<string, number>();

const tick = () => call(srv.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
const head = async (id: string) => (await call(srv.url, 'GET', `/v1/subtrees/${id}`)).body;
const state = async (id: string, key: string) => (await call(srv.url, 'GET', `/v1/subtrees/${id}/state/${key}`)).body;
const childEntry = async (p: string, c: string) => (await state(p, `sys/child/${c}`)).value as { root: string; height: number; round: string } | undefined;

/** SPEC §3 written out here, independently of src/core/object-id.ts. */
function specObjectId(parentId: string, ownerKey: string, name: string): string {
  return toHex(sha256(concatBytes(utf8('DSTP/object/v1\n'), fromHex(parentId, 32), sha256(utf8(ownerKey)), sha256(utf8(name)))));
}

function draft(d: Partial<SubtreeDraft> & { name: string }, key: KeyPair = owner): SubtreeDraft {
  return {
    network: srv.network,
    owner: key.publicKey,
    program: 'kv',
    config: { writers: 'any' },
    mode: { type: 'poa', authority: srv.nodeKey },
    genesis: [],
    ...d,
  };
}

async function create(d: SubtreeDraft, keys: KeyPair[] = [owner], admin = true) {
  const body = signSubtreeRequest(buildSubtreeRequest(d), keys);
  return call(srv.url, 'POST', '/v1/subtrees', { json: body, ...(admin ? { headers: adminHeader() } : {}) });
}

/** A creation request the SDK would refuse to build, signed by the owner over whatever it holds. */
function rawCreate(spec: Record<string, unknown>) {
  const sigs = [{ signer: owner.publicKey, sig: toHex(signDigest('ed25519', fromHex(owner.secret, 32), digest('subtree', spec as never))) }];
  return call(srv.url, 'POST', '/v1/subtrees', { json: { subtree: spec, sigs }, headers: adminHeader() });
}

async function send(sub: string, key: KeyPair, c: string, args: Record<string, JsonValue>) {
  const k = `${sub}/${key.publicKey}`;
  const nonce = nonces.get(k) ?? 0;
  const t = signTransaction({ network: srv.network, subtree: sub, key, nonce, call: c, args });
  const r = await call(srv.url, 'POST', '/v1/transactions', { json: t.envelope });
  if (r.status === 202) nonces.set(k, nonce + 1);
  return r;
}

beforeAll(async () => {
  srv = await startServer();
  client = new DstpClient({ baseUrl: srv.url });
  const p = await create(draft({ name: 'parent', genesis: [{ key: 'kv/p', value: 0 }] }));
  expect(p.status).toBe(201);
  parent = p.body.id;
});
afterAll(async () => {
  await srv.close();
});

describe('creating a nested subtree', () => {
  test('the id is objectId(parentId, owner, name); the head names the parent', async () => {
    const r = await create(draft({ name: 'child', parent, genesis: [{ key: 'kv/c', value: 'genesis' }] }));
    expect(r.status).toBe(201);
    child = r.body.id;
    expect(child).toBe(specObjectId(parent, owner.publicKey, 'child'));
    expect(child).not.toBe(specObjectId('0'.repeat(64), owner.publicKey, 'child'));
    expect((await head(child)).parent).toBe(parent);
    // Nesting goes deeper too: a grandchild under the child.
    const g = await create(draft({ name: 'grandchild', parent: child }));
    expect(g.status).toBe(201);
    grandchild = g.body.id;
    expect(grandchild).toBe(specObjectId(child, owner.publicKey, 'grandchild'));
    // The same signed request again is idempotent.
    expect((await create(draft({ name: 'child', parent, genesis: [{ key: 'kv/c', value: 'genesis' }] }))).status).toBe(200);
  });

  test('bad parents are refused with stable codes and change nothing', async () => {
    const before = (await call(srv.url, 'GET', '/v1/subtrees?limit=100')).body.items.length;
    const unknown = await create(draft({ name: 'orphan', parent: 'ab'.repeat(32) }));
    expect(unknown.status).toBe(422);
    expect(unknown.type).toBe('application/problem+json');
    expect(unknown.body.code).toBe('unknown_parent');
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), 'xyz', '', 7]) {
      // Built by hand: the SDK refuses to build such a request at all.
      const r = await rawCreate({ ...buildSubtreeRequest(draft({ name: 'orphan' })), parent: bad });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('invalid_subtree');
    }
    // Another owner may not nest under someone else's subtree on their own signature...
    const own = { type: 'poa' as const, authority: stranger.publicKey };
    const foreign = await create(draft({ name: 'squat', parent, mode: own }, stranger), [stranger], false);
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('forbidden');
    expect((await call(srv.url, 'GET', '/v1/subtrees?limit=100')).body.items.length).toBe(before);
    // ...but the host's admin may place it.
    const placed = await create(draft({ name: 'squat', parent, mode: own }, stranger), [stranger], true);
    expect(placed.status).toBe(201);
    expect(placed.body.id).toBe(specObjectId(parent, stranger.publicKey, 'squat'));
  });
});

describe("the parent's state holds the child's latest final round", () => {
  test('after the next leader pass, sys/child/<child> = {root, height, round} of the child, proven in the parent', async () => {
    await tick(); // carries the children's round 0 into their parents' logs and runs those rounds
    const c0 = parseRoundHeader((await client.getRound(child, 0)).header);
    const entry = await childEntry(parent, child);
    expect(entry).toEqual({ root: c0.stateRoot, height: 0, round: toHex(roundHash(c0)) });
    // The same pass gave the child its round 1 (it recorded the grandchild's genesis): the parent
    // still shows round 0 — it learns of round 1 on the next pass.
    expect((await childEntry(child, grandchild))?.height).toBe(0);
    expect((await head(child)).height).toBe(1);
    // The answer is proven against the parent's signed final round like any value.
    const parentReq = (await head(parent)).request;
    const v = await verifyStateResponse(await state(parent, `sys/child/${child}`), { key: `sys/child/${child}`, subtree: parent, request: parentReq, expectedValue: entry! });
    expect(v.links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree']);
  });

  test('a new child round shows in the parent one pass later (documented lag); idle passes add nothing', async () => {
    expect((await send(child, owner, 'set', { key: 'c', value: 'one' })).status).toBe(202);
    await tick(); // the parent records the child's round 1; the child's round 2 becomes final
    const h = await head(child);
    expect(h.height).toBe(2);
    expect((await childEntry(parent, child))?.height).toBe(1); // not yet round 2: eventual consistency
    await tick();
    expect(await childEntry(parent, child)).toEqual({ root: h.root, height: 2, round: await roundOf(child, 2) });
    expect(h.headHash).toBe(await roundOf(child, 2));
    const parentHeight = (await head(parent)).height;
    await tick();
    await tick();
    expect((await head(parent)).height).toBe(parentHeight);
    // One node call per carried head, each executed ok, sent by the node key.
    const log = (await call(srv.url, 'GET', `/v1/subtrees/${parent}/log?from=0&limit=100`)).body.items as { envelope: { tx: { call: string; sender: string; args: { child: string; height: number } } } }[];
    const carried = log.filter((e) => e.envelope.tx.call === 'sys_child' && e.envelope.tx.args.child === child).map((e) => e.envelope.tx.args.height);
    expect(carried).toEqual([0, 1, 2]);
    expect(new Set(log.map((e) => e.envelope.tx.sender))).toEqual(new Set([srv.nodeKey]));
  });

  test('users can never send sys_* calls, alone or in a batch, whatever key they use', async () => {
    const h = await head(child);
    const args = { child, root: h.root, height: 99, round: h.root };
    const r = await send(parent, owner, 'sys_child', args);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('reserved_call');
    const t = signTransaction({ network: srv.network, subtree: parent, key: owner, nonce: nonces.get(`${parent}/${owner.publicKey}`) ?? 0, call: 'sys_anything', args: {} });
    const b = await call(srv.url, 'POST', '/v1/transactions/batch', { json: { txs: [t.envelope] } });
    expect(b.body.items[0].problem.code).toBe('reserved_call');
    // A program never writes sys/ either: kv's key lands under kv/.
    expect((await send(parent, owner, 'set', { key: `sys/child/${child}`, value: 1 })).status).toBe(202);
    await tick();
    expect((await childEntry(parent, child))?.height).toBe(2);
    expect((await state(parent, `kv/sys/child/${child}`)).value).toBe(1);
    // Genesis may not seed sys/ keys.
    const g = await rawCreate({ ...buildSubtreeRequest(draft({ name: 'seeded', parent })), genesis: [{ key: `sys/child/${child}`, value: 1 }] });
    expect(g.status).toBe(400);
    expect(g.body.code).toBe('invalid_genesis');
  });
});

async function roundOf(id: string, height: number): Promise<string> {
  return toHex(roundHash(parseRoundHeader((await client.getRound(id, height)).header)));
}

describe('global tree and replay', () => {
  test('only top-level subtrees enter the global tree', async () => {
    const built = await call(srv.url, 'POST', '/v1/checkpoints', { headers: adminHeader() });
    expect(built.body.status).toBe('built');
    expect((await call(srv.url, 'GET', `/v1/subtrees/${parent}/global-proof`)).status).toBe(200);
    for (const id of [child, grandchild]) {
      const r = await call(srv.url, 'GET', `/v1/subtrees/${id}/global-proof`);
      expect(r.status).toBe(404);
      expect(r.body.detail).toContain('nested');
    }
    const latest = (await call(srv.url, 'GET', '/v1/checkpoints/latest')).body;
    const absent = await srv.ctx!.tree.prove(fromHex(latest.checkpoint.globalRoot, 32), child);
    const path = toHex(sha256(utf8(child)));
    expect(absent.leaf === null || absent.leaf.path !== path).toBe(true);
  });

  test("a replay of the parent's log alone reproduces every root, sys_child writes included", async () => {
    const h = await client.getSubtree(parent);
    const rounds = [];
    let sysChild = 0;
    for (let height = 1; height <= h.height; height++) {
      const r = await client.getRound(parent, height);
      const txs = await Promise.all((r.txs ?? []).map(async (id) => ({ id, tx: (await client.getTransaction(id)).envelope!.tx })));
      sysChild += txs.filter((t) => t.tx.call === 'sys_child').length;
      rounds.push({ header: parseRoundHeader(r.header), txs });
    }
    expect(sysChild).toBeGreaterThanOrEqual(3);
    const genesis = parseRoundHeader((await client.getRound(parent, 0)).header);
    const spec = parseSubtreeRequest(h.request, NATIVE_PROGRAMS).subtree;
    const result = await replay({ store: new MemoryNodeStore(), subtree: spec, genesis, rounds });
    expect(result.mismatches).toEqual([]);
    expect(result.rounds.at(-1)!.stateRoot).toBe(h.root);
    // The host key is what makes those writes valid: a replay that trusts another key disagrees.
    const wrong = await replay({ store: new MemoryNodeStore(), subtree: spec, genesis, host: stranger.publicKey, rounds });
    expect(wrong.mismatches.some((m) => m.field === 'stateRoot')).toBe(true);
  });
});

describe('a multisig parent with a child is co-signed by re-executing the node calls', () => {
  test('co-signers sign the parent round carrying the child head, also after reopening their replica', async () => {
    const A = generateKey('ed25519');
    const B = generateKey('ed25519');
    const mode = { type: 'multisig' as const, signers: [A.publicKey, B.publicKey], threshold: 2, proposalTimeoutMs: 60_000 };
    const ms = await create(draft({ name: 'ms-parent', mode }), [owner, A, B]);
    expect(ms.status).toBe(201);
    const msId = ms.body.id as string;
    const kid = await create(draft({ name: 'ms-child', parent: msId }));
    expect(kid.status).toBe(201);
    const dir = mkdtempSync(join(tmpdir(), 'dstp-nested-'));
    const dbs: Database[] = [];
    try {
      const open = async (k: KeyPair, name: string) => {
        const db = await openDatabase({ url: `file:${join(dir, `${name}.db`)}` });
        dbs.push(db);
        return Cosigner.open({ client, subtree: msId, key: k, db });
      };
      const ca = await open(A, 'a');
      const cb = await open(B, 'b');
      await tick();
      expect((await ca.step()).status).toBe('signed');
      expect((await cb.step()).status).toBe('signed');
      expect((await childEntry(msId, kid.body.id))?.height).toBe(0);

      expect((await send(kid.body.id, owner, 'set', { key: 'k', value: 1 })).status).toBe(202);
      await tick(); // child round 1
      await tick(); // parent proposal with sys_child height 1
      // Reopened replicas (stored head) take the host key from round 0 again.
      const ca2 = await open(A, 'a');
      expect((await ca2.step()).status).toBe('signed');
      expect((await cb.step()).status).toBe('signed');
      const entry = await childEntry(msId, kid.body.id);
      expect(entry).toEqual({ root: (await head(kid.body.id)).root, height: 1, round: await roundOf(kid.body.id, 1) });
      await ca2.step();
      expect(ca2.height).toBe((await head(msId)).height);
      expect(ca2.root).toBe((await head(msId)).root);
    } finally {
      for (const db of dbs) await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the proof chain of a value in a nested subtree reaches the global root', () => {
  let info: { publicKey: string; origin: string };
  let request: unknown;
  const key = 'kv/deep';
  const getChain = async (): Promise<ChainResponse> => {
    const r = await call(srv.url, 'GET', `/v1/subtrees/${grandchild}/chain/${key}`);
    expect(r.status).toBe(200);
    return r.body;
  };
  const opts = (): VerifyChainOptions => ({ key, subtree: grandchild, request, nodeKey: info.publicKey, origin: info.origin });

  beforeAll(async () => {
    info = (await call(srv.url, 'GET', '/v1/info')).body;
    request = (await head(grandchild)).request;
    expect((await send(grandchild, owner, 'set', { key: 'deep', value: 'nested' })).status).toBe(202);
    // grandchild round → child records it (next pass) → parent records the child (next pass).
    for (let i = 0; i < 3; i++) await tick();
    expect((await call(srv.url, 'POST', '/v1/checkpoints', { headers: adminHeader() })).body.status).toBe('built');
  });

  test('value → grandchild round → child → parent → global tree → checkpoint → log → note, every link named', async () => {
    const chain = await getChain();
    expect(chain.value).toBe('nested');
    expect(chain.chain.parents!.map((p) => p.subtree)).toEqual([child, parent]);
    const v = await verifyChainResponse(chain, { ...opts(), expectedValue: 'nested' });
    expect(v.links.map((l) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree', 'parent', 'parent', 'global', 'checkpoint', 'log', 'note']);
    expect(v.parents.map((p) => p.subtree)).toEqual([child, parent]);
    // Independently: the global entry is the parent's round that records the child's round that records the grandchild's.
    const g = chain.chain.global.entry as { height: number };
    expect(g.height).toBe(v.parents[1]!.height);
  });

  test('a nested value before its head reached the checkpoint answers 404 with a reason, not a wrong proof', async () => {
    const late = await create(draft({ name: 'late', parent }));
    expect(late.status).toBe(201);
    const r = await call(srv.url, 'GET', `/v1/subtrees/${late.body.id}/chain/kv/x`);
    expect(r.status).toBe(404);
    expect(r.body.detail).toContain('not recorded');
  });

  type Tamper = [link: string, what: string, f: (c: ChainResponse) => void];
  const flipHex = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
  const tampers: Tamper[] = [
    ['proof', 'value', (c) => (c.value = 'forged')],
    ['signatures', "grandchild's round signature", (c) => (c.round!.signatures[0]!.sig = flipHex(c.round!.signatures[0]!.sig))],
    ['parent', "child's entry for the grandchild (height)", (c) => ((c.chain.parents![0]!.value as { height: number }).height += 1)],
    ['parent', "child's state proof sibling", (c) => (c.chain.parents![0]!.proof.siblings[0] = flipHex(c.chain.parents![0]!.proof.siblings[0]!))],
    ['parent', "child's round stateRoot", (c) => (c.chain.parents![0]!.round!.header.stateRoot = flipHex(c.chain.parents![0]!.round!.header.stateRoot))],
    ['parent', "child's round signature", (c) => (c.chain.parents![0]!.round!.signatures[0]!.sig = flipHex(c.chain.parents![0]!.round!.signatures[0]!.sig))],
    ['parent', "child's creation request (owner signature)", (c) => {
      const r = c.chain.parents![0]!.request as { sigs: { sig: string }[] };
      r.sigs[0]!.sig = flipHex(r.sigs[0]!.sig);
    }],
    ['parent', 'another parent id', (c) => (c.chain.parents![0]!.subtree = flipHex(c.chain.parents![0]!.subtree))],
    ["parent", "top parent's entry for the child (round)", (c) => ((c.chain.parents![1]!.value as { round: string }).round = flipHex((c.chain.parents![1]!.value as { round: string }).round))],
    ['parent', 'the top-level parent left out', (c) => c.chain.parents!.pop()],
    ['parent', 'parents left out', (c) => delete c.chain.parents],
    ['global', 'global entry height', (c) => ((c.chain.global.entry as { height: number }).height += 1)],
    ['global', 'global proof root', (c) => (c.chain.global.globalRoot = flipHex(c.chain.global.globalRoot))],
    ['checkpoint', 'checkpoint signature', (c) => (c.chain.checkpoint.sig = flipHex(c.chain.checkpoint.sig))],
    ['log', 'log root', (c) => (c.chain.log.root = flipHex(c.chain.log.root))],
  ];
  for (const [link, what, tamper] of tampers) {
    test(`tampered ${what} → the verifier names link "${link}"`, async () => {
      const chain = await getChain();
      tamper(chain);
      let err: unknown;
      try {
        await verifyChainResponse(chain, opts());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).link).toBe(link as VerificationError['link']);
    });
  }

  test('dstp create-subtree --parent nests a subtree under an existing one; the id is objectId(parent, owner, name)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dstp-nested-cli-'));
    try {
      const outs: { id?: string; parent?: string; publicKey?: string }[] = [];
      const errs: string[] = [];
      const io = { out: (v: unknown) => outs.push(v as never), note: () => undefined, stdout: () => undefined, stderr: (l: string) => errs.push(l), env: {} };
      const keyFile = join(dir, 'cli-owner.json');
      expect(await main(['keygen', '--out', keyFile], io)).toBe(0);
      const cliOwner = outs.at(-1)!.publicKey!;
      // The node is the authority, so its signature needs the admin token here (top level).
      const top = await main(['create-subtree', '--node', srv.url, '--admin-token', srv.adminToken!, '--key', keyFile, '--name', 'cli-top', '--program', 'kv', '--config', '{"writers":"any"}'], io);
      expect({ top, errs }).toEqual({ top: 0, errs: [] });
      const topId = outs.at(-1)!.id!;
      const nested = await main(['create-subtree', '--node', srv.url, '--admin-token', srv.adminToken!, '--key', keyFile, '--name', 'cli-kid', '--program', 'kv', '--config', '{"writers":"any"}', '--parent', topId], io);
      expect({ nested, errs }).toEqual({ nested: 0, errs: [] });
      expect(outs.at(-1)).toMatchObject({ id: specObjectId(topId, cliOwner, 'cli-kid'), parent: topId });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dstp verify --chain verifies a nested value', async () => {
    const outs: unknown[] = [];
    const errs: string[] = [];
    const notes: string[] = [];
    const io = { out: (v: unknown) => outs.push(v), note: (l: string) => notes.push(l), stdout: () => undefined, stderr: (l: string) => errs.push(l), env: {} };
    const code = await main(['verify', '--chain', '--node', srv.url, '--subtree', grandchild, '--key', key, '--expect', '"nested"'], io);
    expect({ code, errs }).toEqual({ code: 0, errs: [] });
    // No calendar in this test: the output says the .ots link is missing instead of a bare ok.
    expect(outs[0]).toMatchObject({ ok: true, ots: 'absent' });
    expect(notes.join('\n')).toContain('ots: absent');
    expect((outs[0] as { links: { link: string }[] }).links.map((l) => l.link)).toContain('parent');
  });
});
