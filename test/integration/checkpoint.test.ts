import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { parseCheckpoint } from '../../src/core/checkpoint.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { jcs } from '../../src/core/jcs.ts';
import { consistencyProof, inclusionProof, leafHash, merkleRoot, verifyConsistency, verifyInclusion } from '../../src/core/merkle-log.ts';
import { verifyProof } from '../../src/core/smt/verify.ts';
import { acquireLease, listEvents } from '../../src/store/index.ts';
import { adminHeader, call, party, signedTx, startServer, subtreeRequest, type TestServer } from '../helpers/server.ts';

/**
 * Checkpoints through the real API (SPEC §9): the global tree against a root recomputed here from
 * each subtree's final head with an independent SPEC §4 implementation, the checkpoint log's
 * inclusion and consistency proofs between every pair of sizes, detection of an altered older
 * checkpoint, the signed note under a C2SP verifier written here from the spec, fencing, events.
 */

let s: TestServer;
const ids: string[] = [];
const nonces = new Map<string, number>();
const alice = party('checkpoint-alice');

const sha = (...parts: (Uint8Array | string)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** SPEC §4 root of a set of (key, value) pairs, straight from the definition (no code shared with src/core/smt). */
function referenceRoot(entries: [string, string][]): string {
  const leaves = entries.map(([k, valueJson]) => ({ path: sha(k), valueHash: sha(valueJson) }));
  const bit = (p: Uint8Array, i: number) => (p[Math.floor(i / 8)]! >> (7 - (i % 8))) & 1;
  const hashSet = (set: typeof leaves, d: number): Uint8Array => {
    if (set.length === 0) return new Uint8Array(32);
    if (set.length === 1) return sha(new Uint8Array([0]), set[0]!.path, set[0]!.valueHash);
    return sha(new Uint8Array([1]), hashSet(set.filter((l) => bit(l.path, d) === 0), d + 1), hashSet(set.filter((l) => bit(l.path, d) === 1), d + 1));
  };
  return toHex(hashSet(leaves, 0));
}

/** A C2SP signed-note Ed25519 verifier written from the spec, on node:crypto only. */
function c2spVerify(note: string, name: string, pub: Uint8Array): { text: string } {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Error('malformed note');
  const text = note.slice(0, split + 1);
  const keyId = sha(name, new Uint8Array([0x0a, 0x01]), pub).slice(0, 4);
  const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  let verified = 0;
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error(`malformed signature line ${line}`);
    const raw = Buffer.from(m[2]!, 'base64');
    if (m[1] !== name || !raw.subarray(0, 4).equals(Buffer.from(keyId))) continue; // unknown key: ignore
    if (!nodeVerify(null, Buffer.from(text, 'utf8'), spki, raw.subarray(4))) throw new Error('signature by the trusted key does not verify');
    verified++;
  }
  if (verified === 0) throw new Error('no signature by the trusted key');
  return { text };
}

async function createKv(name: string) {
  const req = subtreeRequest({ network: s.network, owner: alice, name, program: 'kv', config: { writers: 'any' }, authority: s.nodeKey, genesis: [{ key: 'kv/name', value: name }] });
  expect((await call(s.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() })).status).toBe(201);
  ids.push(req.id);
  nonces.set(req.id, 0);
  return req.id;
}

async function write(subtree: string, key: string, value: number) {
  const nonce = nonces.get(subtree)!;
  nonces.set(subtree, nonce + 1);
  const r = await call(s.url, 'POST', '/v1/transactions', {
    json: signedTx(alice, { network: s.network, subtree, nonce, call: 'set', args: { key, value } }),
  });
  expect(r.status).toBe(202);
}

const tick = async () => expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
const build = async () => (await call(s.url, 'POST', '/v1/checkpoints', { headers: adminHeader() })).body;

beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.close();
});

describe('checkpoints', () => {
  const built: { seq: number; logRoot: string }[] = [];

  test('nothing to checkpoint before any subtree exists; 404 for latest', async () => {
    expect((await build()).status).toBe('unchanged');
    expect((await call(s.url, 'GET', '/v1/checkpoints/latest')).status).toBe(404);
  });

  test('a checkpoint is built only when a top-level head moved', async () => {
    await createKv('a');
    await createKv('b');
    let r = await build();
    expect(r).toMatchObject({ status: 'built', seq: 0, changed: 2 });
    built.push(r);
    expect((await build()).status).toBe('unchanged');

    for (let i = 0; i < 6; i++) {
      if (i === 2) await createKv('c');
      await write(i === 5 ? ids[2]! : ids[i % 2]!, `k${i}`, i);
      await tick();
      r = await build();
      expect(r.status).toBe('built');
      expect(r.changed).toBe(i === 2 ? 2 : 1);
      built.push(r);
    }
    expect(built.map((b) => b.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('global root = root recomputed independently from every subtree final head', async () => {
    const latest = (await call(s.url, 'GET', '/v1/checkpoints/latest')).body;
    const entries: [string, string][] = [];
    for (const id of ids) {
      const head = (await call(s.url, 'GET', `/v1/subtrees/${id}`)).body;
      const round = (await call(s.url, 'GET', `/v1/subtrees/${id}/rounds/${head.height}`)).body;
      expect(round.header.stateRoot).toBe(head.root);
      // The global value {root, height, round}, canonical JSON written by hand (keys in code-point order).
      entries.push([id, `{"height":${head.height},"root":"${head.root}","round":"${round.hash}"}`]);
      const gp = (await call(s.url, 'GET', `/v1/subtrees/${id}/global-proof`)).body;
      expect(gp.entry).toEqual({ root: head.root, height: head.height, round: round.hash });
      verifyProof(gp.proof, { key: id, value: gp.entry, root: latest.checkpoint.globalRoot });
    }
    expect(latest.checkpoint.globalRoot).toBe(referenceRoot(entries));
    // An older checkpoint keeps its own global tree (history).
    const gp0 = (await call(s.url, 'GET', `/v1/subtrees/${ids[0]}/global-proof?seq=0`)).body;
    expect(gp0.entry.height).toBe(0);
    expect(gp0.globalRoot).toBe((await call(s.url, 'GET', '/v1/checkpoints/0')).body.checkpoint.globalRoot);
    expect((await call(s.url, 'GET', `/v1/subtrees/${ids[2]}/global-proof?seq=0`)).status).toBe(404);
  });

  test('checkpoint JSON: hash, node signature, prev chain, log root', async () => {
    const info = (await call(s.url, 'GET', '/v1/info')).body;
    const pub = fromHex(info.publicKey.slice('ed25519:'.length), 32);
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
    let prev = '0'.repeat(64);
    const leaves: Uint8Array[] = [];
    for (const b of built) {
      const v = (await call(s.url, 'GET', `/v1/checkpoints/${b.seq}`)).body;
      const c = parseCheckpoint(v.checkpoint);
      expect(c.prev).toBe(prev);
      const hash = sha('DSTP/checkpoint/v1\n', jcs(c));
      expect(v.hash).toBe(toHex(hash));
      expect(nodeVerify(null, hash, spki, Buffer.from(v.sig, 'hex'))).toBe(true);
      leaves.push(sha(new Uint8Array([0]), jcs(c)));
      expect(v.logRoot).toBe(b.logRoot);
      expect(v.logSize).toBe(b.seq + 1);
      prev = v.hash;
    }
    expect(toHex(leafHash(new TextEncoder().encode(jcs((await call(s.url, 'GET', '/v1/checkpoints/0')).body.checkpoint))))).toBe(toHex(leaves[0]!));
  });

  test('the signed note verifies under a C2SP verifier written from the spec; key ID by the formula', async () => {
    const info = (await call(s.url, 'GET', '/v1/info')).body;
    const pub = fromHex(info.publicKey.slice('ed25519:'.length), 32);
    const res = await fetch(`${s.url}/v1/checkpoints/latest`, { headers: { accept: 'text/plain' } });
    expect(res.headers.get('content-type')).toStartWith('text/plain');
    const note = await res.text();
    const { text } = c2spVerify(note, info.origin, pub);
    const json = (await call(s.url, 'GET', '/v1/checkpoints/latest')).body;
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toEqual([info.origin, String(json.logSize), Buffer.from(json.logRoot, 'hex').toString('base64'), `dstp-global ${json.checkpoint.globalRoot}`]);
    const keyId = toHex(sha(info.origin, new Uint8Array([0x0a, 0x01]), pub).slice(0, 4));
    expect(json.noteKey).toBe(`${info.origin}+${keyId}+${Buffer.concat([Buffer.from([1]), pub]).toString('base64')}`);
    expect(Buffer.from(note.split(' ').at(-1)!.trim(), 'base64').subarray(0, 4).toString('hex')).toBe(keyId);
    // One changed character anywhere in the text breaks it.
    expect(() => c2spVerify(note.replace(`\n${json.logSize}\n`, `\n${json.logSize + 1}\n`), info.origin, pub)).toThrow(/does not verify/);
    // Every older note verifies too.
    for (const b of built) c2spVerify((await call(s.url, 'GET', `/v1/checkpoints/${b.seq}`)).body.note, info.origin, pub);
  });

  test('inclusion of every checkpoint at every later size, and consistency between every pair of sizes', async () => {
    const n = built.length;
    const roots = new Map<number, Uint8Array>();
    for (const b of built) roots.set(b.seq + 1, fromHex(b.logRoot, 32));
    for (let size = 1; size <= n; size++) {
      for (let seq = 0; seq < size; seq++) {
        const p = (await call(s.url, 'GET', `/v1/checkpoints/${seq}/inclusion?size=${size}`)).body;
        expect(p.root).toBe(toHex(roots.get(size)!));
        expect(p.leafHash).toBe(toHex(leafHash(new TextEncoder().encode(jcs(p.checkpoint)))));
        verifyInclusion(fromHex(p.leafHash, 32), seq, size, p.proof.map((h: string) => fromHex(h, 32)), roots.get(size)!);
      }
    }
    for (let from = 1; from <= n; from++) {
      for (let to = from; to <= n; to++) {
        const p = (await call(s.url, 'GET', `/v1/checkpoints/consistency?from=${from}&to=${to}`)).body;
        expect([p.fromRoot, p.toRoot]).toEqual([toHex(roots.get(from)!), toHex(roots.get(to)!)]);
        verifyConsistency(from, to, roots.get(from)!, roots.get(to)!, p.proof.map((h: string) => fromHex(h, 32)));
      }
    }
  });

  test('an altered older checkpoint is detected by inclusion, consistency and its signature', async () => {
    const n = built.length;
    const latestRoot = fromHex(built.at(-1)!.logRoot, 32);
    const p = (await call(s.url, 'GET', `/v1/checkpoints/2/inclusion?size=${n}`)).body;
    const forged = { ...p.checkpoint, globalRoot: 'ff'.repeat(32) };
    const forgedLeaf = leafHash(new TextEncoder().encode(jcs(forged)));
    expect(() => verifyInclusion(forgedLeaf, 2, n, p.proof.map((h: string) => fromHex(h, 32)), latestRoot)).toThrow(/does not lead to the root/);
    // A log of 3 with the forged leaf has another root: the consistency proof to the latest size fails.
    const leaves = [];
    for (let i = 0; i < 3; i++) leaves.push(i === 2 ? forgedLeaf : fromHex((await call(s.url, 'GET', `/v1/checkpoints/${i}/inclusion?size=3`)).body.leafHash, 32));
    const node = (l: Uint8Array, r: Uint8Array) => sha(new Uint8Array([1]), l, r);
    const forgedRoot3 = node(node(leaves[0]!, leaves[1]!), leaves[2]!);
    const c = (await call(s.url, 'GET', `/v1/checkpoints/consistency?from=3&to=${n}`)).body;
    expect(() => verifyConsistency(3, n, forgedRoot3, latestRoot, c.proof.map((h: string) => fromHex(h, 32)))).toThrow(/old root/);
    // The honest root verifies.
    verifyConsistency(3, n, fromHex(c.fromRoot, 32), latestRoot, c.proof.map((h: string) => fromHex(h, 32)));
    // And the node's signature does not cover the forged checkpoint.
    const v2 = (await call(s.url, 'GET', '/v1/checkpoints/2')).body;
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), fromHex(v2.signer.slice(8), 32)]), format: 'der', type: 'spki' });
    expect(nodeVerify(null, sha('DSTP/checkpoint/v1\n', jcs(v2.checkpoint)), spki, Buffer.from(v2.sig, 'hex'))).toBe(true);
    expect(nodeVerify(null, sha('DSTP/checkpoint/v1\n', jcs(forged)), spki, Buffer.from(v2.sig, 'hex'))).toBe(false);
  });

  test('checkpoint.created events are written with each checkpoint', async () => {
    const events = (await listEvents(s.ctx!.db, { limit: 1000 })).filter((e) => e.type === 'checkpoint.created');
    expect(events.map((e) => (e.data as { seq: number }).seq)).toEqual(built.map((b) => b.seq));
    expect((events[0]!.data as { logRoot: string }).logRoot).toBe(built[0]!.logRoot);
  });

  test('fencing: while another process holds the leader lease, nothing is built', async () => {
    await write(ids[0]!, 'fenced', 1);
    await tick();
    const db = s.ctx!.db;
    // Let our own lease expire, then another holder takes it.
    const now = Date.now() + s.ctx!.config.leaseTtlMs + 1;
    expect(await acquireLease(db, { name: 'leader', holder: 'someone-else', ttlMs: 60_000, now })).not.toBeNull();
    expect((await build()).status).toBe('not_leader');
    expect((await call(s.url, 'GET', '/v1/checkpoints/latest')).body.checkpoint.seq).toBe(built.at(-1)!.seq);
  });

  test('a longer log (memoized subtrees): every root and sampled proofs agree with the plain RFC 6962 functions', async () => {
    const other = await startServer();
    try {
      const owner = party('log-owner');
      const req = subtreeRequest({ network: other.network, owner, name: 'log', program: 'kv', config: { writers: 'any' }, authority: other.nodeKey });
      expect((await call(other.url, 'POST', '/v1/subtrees', { json: req.body, headers: adminHeader() })).status).toBe(201);
      const roots: string[] = [];
      for (let i = 0; i < 70; i++) {
        if (i > 0) {
          const tx = signedTx(owner, { network: other.network, subtree: req.id, nonce: i - 1, call: 'set', args: { key: 'n', value: i } });
          expect((await call(other.url, 'POST', '/v1/transactions', { json: tx })).status).toBe(202);
          await call(other.url, 'POST', '/v1/leader/tick', { headers: adminHeader() });
        }
        const r = (await call(other.url, 'POST', '/v1/checkpoints', { headers: adminHeader() })).body;
        expect(r.seq).toBe(i);
        roots.push(r.logRoot);
      }
      const leaves: Uint8Array[] = [];
      for (let i = 0; i < 70; i++) leaves.push(new TextEncoder().encode(jcs((await call(other.url, 'GET', `/v1/checkpoints/${i}`)).body.checkpoint)));
      for (let n = 1; n <= 70; n++) expect(roots[n - 1]).toBe(toHex(merkleRoot(leaves.slice(0, n))));
      for (const [seq, size] of [[0, 70], [33, 70], [63, 64], [64, 65], [17, 48], [69, 70]] as const) {
        const p = (await call(other.url, 'GET', `/v1/checkpoints/${seq}/inclusion?size=${size}`)).body;
        expect(p.proof).toEqual(inclusionProof(leaves.slice(0, size), seq).map(toHex));
      }
      for (const [from, to] of [[1, 70], [32, 70], [33, 64], [64, 70], [17, 48], [70, 70]] as const) {
        const p = (await call(other.url, 'GET', `/v1/checkpoints/consistency?from=${from}&to=${to}`)).body;
        expect(p.proof).toEqual(consistencyProof(leaves.slice(0, to), from).map(toHex));
      }
    } finally {
      await other.close();
    }
  });

  test('bad parameters answer problem+json 4xx', async () => {
    for (const path of ['/v1/checkpoints/x', '/v1/checkpoints/0/inclusion?size=0', '/v1/checkpoints/consistency', '/v1/checkpoints/consistency?from=9&to=2', '/v1/checkpoints/0/inclusion?size=999', '/v1/checkpoints/999']) {
      const r = await call(s.url, 'GET', path);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.type).toBe('application/problem+json');
    }
    expect((await call(s.url, 'POST', '/v1/checkpoints')).status).toBe(401);
  });
});
