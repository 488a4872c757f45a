/**
 * Proof of stake with four real validator processes (`dstp cosign`, each with its own libSQL
 * replica) of unequal stake (40/30/20/10) following a real node process on 127.0.0.1.
 * Kill the smallest: > 2/3 remains, rounds finalize. Stop the largest too: 50 of 100 signs, the
 * open round is not final and its transactions stay pending; restart it and the round finalizes.
 * Equivocation evidence against C (signed offline with C's key) slashes C exactly once; C's process
 * then no longer counts. The log executes exactly once and the roots equal a fresh replay.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, type KeyPair } from '../../src/client/index.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { signDigest } from '../../src/core/keys.ts';
import { roundHash, type RoundHeader } from '../../src/core/round.ts';
import { cosignerReady, kvWriter, spawnCosigner, stopAllCosigners, type CosignProc } from './cosign-harness.ts';
import { cleanupAll, http, NETWORK, readLedger, spawnNode, tempDir, waitFor } from './harness.ts';
import { checkLogShape, replayMismatches } from './ledger.ts';

afterAll(async () => {
  await stopAllCosigners();
  await cleanupAll();
});

describe('reliability: proof of stake with validator processes', () => {
  test('> 2/3 of stake finalizes, <= 2/3 does not; evidence slashes once; nothing lost or executed twice; roots = replay', async () => {
    const dir = tempDir('dstp-pos-');
    const dbPath = join(dir, 'node.db');
    const node = await spawnNode({ dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), roundIntervalMs: 50 });
    const owner = generateKey('ed25519');
    const writer = generateKey('ed25519');
    // One key of each scheme among the validators.
    const [A, B, C, D] = [generateKey('ed25519'), generateKey('secp256k1'), generateKey('bip340'), generateKey('ed25519')] as KeyPair[];
    const names = ['A', 'B', 'C', 'D'];
    const validators = [A!, B!, C!, D!];
    const stakes = ['40', '30', '20', '10'];
    const mode = { type: 'pos' as const, validators: validators.map((k, i) => ({ key: k.publicKey, stake: stakes[i]! })), epochRounds: 4, slashBps: 5000 };
    const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name: 'staked', program: 'kv', config: { writers: 'any' }, mode, genesis: [] });
    // A and B hold 70 of 100: enough to sign the creation.
    const created = await http(node.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, A!, B!]) });
    expect(created.status).toBe(201);
    const subtree = created.body.id as string;

    const start = (i: number) => spawnCosigner({ dir, name: `validator-${names[i]}`, key: validators[i]!, node: node.url, subtree });
    const cos: CosignProc[] = [0, 1, 2, 3].map(start);
    await Promise.all(cos.map(cosignerReady));
    const { sendMany, status, allExecuted, head } = kvWriter(node.url, subtree, writer);
    const openProposal = async () => (await http(node.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items[0];

    // All four (100 of 100).
    await allExecuted(await sendMany(10, 'a'), 'phase A (all validators)');
    // D (10) killed: 90 of 100 still finalizes.
    await cos[3]!.kill9();
    await allExecuted(await sendMany(10, 'b'), 'phase B (A, B, C)');

    // A (40) stopped as well: B + C hold 50 of 100, not more than 2/3. Both sign, nothing is final.
    await cos[0]!.stop();
    const stuck = await sendMany(5, 'c');
    const heightBefore = (await head()).height as number;
    const open = await waitFor(
      'B and C to sign the open proposal',
      async () => {
        const p = await openProposal();
        return p && p.signatures.length === 2 ? p : undefined;
      },
      15_000,
    );
    expect(open.signatures.map((s: { signer: string }) => s.signer).sort()).toEqual([B!.publicKey, C!.publicKey].sort());
    await Bun.sleep(500); // several leader and co-signer passes
    expect((await head()).height).toBe(heightBefore);
    for (const id of stuck) expect(await status(id)).toBe('pending');
    expect((await openProposal()).hash).toBe(open.hash); // pos proposals do not expire

    // A comes back with its replica file: it signs the open round, which becomes final.
    cos[0] = start(0);
    await cosignerReady(cos[0]);
    await allExecuted(stuck, 'the pending round once A is back');

    // Equivocation: C's key signs two different headers for one height (done here, offline, with
    // C's secret; the honest process never would). The node slashes C once, in its next round.
    const last = (await http(node.url, 'GET', `/v1/subtrees/${subtree}/rounds/${(await head()).height}`)).body;
    const real = last.header as RoundHeader;
    const other: RoundHeader = { ...real, time: real.time + 1 };
    const signC = (h: RoundHeader) => toHex(signDigest(C!.scheme, fromHex(C!.secret, 32), roundHash(h)));
    const evidence = { validator: C!.publicKey, a: { header: real, sig: signC(real) }, b: { header: other, sig: signC(other) } };
    const ok = await http(node.url, 'POST', '/v1/evidence', { json: evidence });
    expect(ok.status).toBe(202);
    const again = await http(node.url, 'POST', '/v1/evidence', { json: evidence });
    expect([again.status, again.body.code]).toEqual([409, 'evidence_known']);
    const forged = await http(node.url, 'POST', '/v1/evidence', { json: { ...evidence, b: evidence.a } });
    expect([forged.status, forged.body.code]).toEqual([400, 'invalid_evidence']);
    await allExecuted([ok.body.tx as string], 'the slash transaction');
    const consensus = (await http(node.url, 'GET', `/v1/subtrees/${subtree}/state/sys%2Fconsensus`)).body.value;
    expect(consensus.slashed).toEqual([C!.publicKey]);
    expect(consensus.mode.validators.map((v: { key: string; stake: string }) => `${names[validators.findIndex((k) => k.publicKey === v.key)]}${v.stake}`)).toEqual([
      'A40',
      'B30',
      'D10',
    ]);

    // After the slash: A + B hold 70 of the 80 that remain. C's process keeps signing, but it no
    // longer counts, and D (restarted) catches up from its replica.
    cos[3] = start(3);
    await cosignerReady(cos[3]);
    await allExecuted(await sendMany(8, 'd'), 'phase D (after the slash)');
    await waitFor('C to be told it no longer signs', async () => (cos[2]!.events.some((e) => e.type === 'not_a_signer') ? true : undefined), 10_000);

    // Ledger: every accepted transaction executed once, in log order; rounds chain; C signs no
    // round after its slash; replay from genesis reproduces every root.
    const h = await head();
    const ledger = await readLedger(dbPath, subtree);
    expect(checkLogShape(ledger.log, ledger.logSize)).toEqual([]);
    expect(ledger.log.every((t) => t.status === 'executed')).toBe(true);
    expect(ledger.rounds.flatMap((r) => r.txIds)).toEqual(ledger.log.map((t) => t.id));
    const slashHeight = ledger.log.find((t) => t.id === ok.body.tx)!.height!;
    let prev = ledger.rounds[0]!.hash;
    for (const r of ledger.rounds.slice(1)) {
      expect(r.header.prev).toBe(prev);
      if (r.height > slashHeight) expect(r.signatures.some((s) => s.signer === C!.publicKey)).toBe(false);
      prev = r.hash;
    }
    expect(await replayMismatches(ledger.request, ledger.rounds, ledger.log)).toEqual([]);

    // Each validator's own replica reached the node's head by its own execution, and none refused.
    await Bun.sleep(300);
    for (const c of cos) await c.stop();
    for (const [i, c] of cos.entries()) {
      const summary = JSON.parse(c.stdout());
      expect({ v: names[i], height: summary.height, root: summary.root }).toEqual({ v: names[i], height: h.height, root: h.root });
      expect(c.events.filter((e) => e.type === 'refused' || e.type === 'fork')).toEqual([]);
    }
    await node.stop();
  }, 90_000);
});
