/**
 * 2-of-3 multisig with three real co-signer processes (`dstp cosign`, each with its own libSQL
 * replica) following a real node process on 127.0.0.1. Stop one: rounds still finalize. Stop two:
 * proposals expire, transactions stay pending, the subtree halts. Restart them and resume (`dstp
 * resume`): nothing lost, nothing executed twice, and the roots equal a fresh replay.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction, type KeyPair } from '../../src/client/index.ts';
import { parseMode } from '../../src/core/consensus/mode.ts';
import { isRoundFinal } from '../../src/core/consensus/poa.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { cleanupAll, http, NETWORK, openReader, readLedger, spawnNode, tempDir, waitFor } from './harness.ts';
import { cosignerReady, keyFile, kvWriter, runCli, spawnCosigner, stopAllCosigners, type CosignProc } from './cosign-harness.ts';
import { checkLogShape, replayMismatches } from './ledger.ts';

afterAll(async () => {
  await stopAllCosigners();
  await cleanupAll();
});

describe('reliability: 2-of-3 multisig with co-signer processes', () => {
  test('finalizes with 3 and with 2 signers, halts with 1, resumes; nothing lost or executed twice; roots = replay', async () => {
    const dir = tempDir('dstp-cosign-');
    const dbPath = join(dir, 'node.db');
    const node = await spawnNode({ dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), roundIntervalMs: 50 });
    const owner = generateKey('ed25519');
    const signers: KeyPair[] = [generateKey('ed25519'), generateKey('secp256k1'), generateKey('bip340')];
    const writer = generateKey('ed25519');
    const mode = { type: 'multisig' as const, signers: signers.map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 1000 };
    const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name: 'cosigned', program: 'kv', config: { writers: 'any' }, mode, genesis: [] });
    const created = await http(node.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, signers[0]!, signers[1]!]) });
    expect(created.status).toBe(201);
    const subtree = created.body.id as string;

    const start = (i: number) => spawnCosigner({ dir, name: `cosigner-${i}`, key: signers[i]!, node: node.url, subtree });
    const cos: CosignProc[] = [start(0), start(1), start(2)];
    await Promise.all(cos.map(cosignerReady));
    const { sent, sendMany, status, allExecuted, head, nonce } = kvWriter(node.url, subtree, writer);

    // Three co-signers.
    await allExecuted(await sendMany(12, 'a'), 'phase A (3 co-signers)');
    // One co-signer killed: 2 of 3 still finalize.
    await cos[2]!.kill9();
    await allExecuted(await sendMany(12, 'b'), 'phase B (2 co-signers)');
    // Two stopped: proposals expire, transactions stay pending, the third expiry halts the subtree.
    await cos[1]!.stop();
    const stuck = await sendMany(5, 'c');
    await waitFor('the subtree to halt', async () => ((await head()).status === 'halted' ? true : undefined), 15_000, 100);
    for (const id of stuck) expect(await status(id)).toBe('pending');
    const refused = await http(node.url, 'POST', '/v1/transactions', {
      json: signTransaction({ network: NETWORK, subtree, key: writer, nonce: nonce(), call: 'set', args: { key: 'late', value: 1 } }).envelope,
    });
    expect([refused.status, refused.body.code]).toEqual([409, 'subtree_halted']);
    const reader = await openReader(dbPath);
    const expiredEvents = await reader.all("SELECT data FROM events WHERE type = 'proposal.expired' AND subtree = ?", [subtree]);
    const haltedEvents = await reader.all("SELECT data FROM events WHERE type = 'subtree.halted' AND subtree = ?", [subtree]);
    reader.close();
    expect(expiredEvents.length).toBe(3);
    expect(haltedEvents.length).toBe(1);
    // The lone co-signer signed each expiring proposal; one signature never made one final.
    expect(cos[0]!.events.filter((e) => e.type === 'signed').length).toBeGreaterThanOrEqual(3);

    // Restart the two (same replica files), resume with two signers' signatures via `dstp resume`.
    cos[1] = start(1);
    cos[2] = start(2);
    await Promise.all([cosignerReady(cos[1]), cosignerReady(cos[2])]);
    for (const i of [1, 2]) {
      const r = await runCli(['resume', '--key', keyFile(dir, `resume-${i}`, signers[i]!), '--node', node.url, '--subtree', subtree]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ signed: true, halt: 1 });
    }
    expect((await head()).status).toBe('active');
    await allExecuted(stuck, 'the halted transactions after the resume');
    await allExecuted(await sendMany(8, 'd'), 'phase D (after resume)');

    // Ledger: every accepted transaction executed exactly once, in log order; every round signed by
    // 2 of the 3; replay from genesis reproduces every root.
    const h = await head();
    const ledger = await readLedger(dbPath, subtree);
    expect(checkLogShape(ledger.log, ledger.logSize)).toEqual([]);
    expect(ledger.log.map((t) => t.id)).toEqual(sent);
    expect(ledger.log.every((t) => t.status === 'executed')).toBe(true);
    const executed = ledger.rounds.flatMap((r) => r.txIds);
    expect(executed).toEqual(sent);
    const m = parseMode(mode);
    let prev = ledger.rounds[0]!.hash;
    for (const r of ledger.rounds.slice(1)) {
      expect(r.header.prev).toBe(prev);
      expect(isRoundFinal(m, fromHex(r.hash, 32), r.signatures)).toBe(true);
      expect(r.signatures.every((s) => mode.signers.includes(s.signer))).toBe(true);
      prev = r.hash;
    }
    expect(await replayMismatches(ledger.request, ledger.rounds, ledger.log)).toEqual([]);

    // The co-signers' own replicas reached the same head by their own execution.
    await Bun.sleep(300);
    for (const c of cos) await c.stop();
    for (const [i, c] of cos.entries()) {
      const summary = JSON.parse(c.stdout());
      expect({ i, height: summary.height, root: summary.root }).toEqual({ i, height: h.height, root: h.root });
      expect(c.events.filter((e) => e.type === 'refused' || e.type === 'fork')).toEqual([]);
    }
    await node.stop();
  }, 60_000);
});
