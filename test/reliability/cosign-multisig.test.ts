/**
 * 2-of-3 multisig with three real co-signer processes (`dstp cosign`, each with its own libSQL
 * replica) following a real node process on 127.0.0.1. Stop one: rounds still finalize. Stop two:
 * the proposal waits (no expiry certificate can form; the node's clock expires nothing) and its
 * transactions stay pending. Restart them: they sign it late. Nothing lost, nothing executed
 * twice, and the roots equal a fresh replay. (Halt and resume with co-signer processes:
 * cosign-wrong-root.test.ts.)
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction, type KeyPair } from '../../src/client/index.ts';
import { parseMode } from '../../src/core/consensus/mode.ts';
import { isRoundFinal } from '../../src/core/consensus/signing-rules.ts';
import { fromHex, toHex } from '../../src/core/hex.ts';
import { cleanupAll, http, NETWORK, openReader, readLedger, spawnNode, tempDir, waitFor } from './harness.ts';
import { cosignerReady, keyFile, kvWriter, runCli, spawnCosigner, stopAllCosigners, type CosignProc } from './cosign-harness.ts';
import { checkLogShape, replayMismatches } from './ledger.ts';

afterAll(async () => {
  await stopAllCosigners();
  await cleanupAll();
});

describe('reliability: 2-of-3 multisig with co-signer processes', () => {
  test('finalizes with 3 and with 2 signers, waits with 1 (no expiry), signs late when the others return; nothing lost or executed twice; roots = replay', async () => {
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
    // Two stopped: the lone co-signer signs; no certificate can form, so nothing expires (the
    // node's clock expires nothing), the proposal waits and its transactions stay pending.
    await cos[1]!.stop();
    const stuck = await sendMany(5, 'c');
    await waitFor('the lone co-signer to sign', async () => {
      const open = (await http(node.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items;
      return open.length === 1 && open[0].signatures.length === 1 ? open[0] : undefined;
    }, 15_000, 100);
    const waiting = (await http(node.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items[0];
    await Bun.sleep(1500); // past proposalTimeoutMs (1000)
    expect((await http(node.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=open`)).body.items.map((p: { hash: string }) => p.hash)).toEqual([waiting.hash]);
    for (const id of stuck) expect(await status(id)).toBe('pending');
    const reader = await openReader(dbPath);
    const expiredEvents = await reader.all("SELECT data FROM events WHERE type = 'proposal.expired' AND subtree = ?", [subtree]);
    reader.close();
    expect(expiredEvents.length).toBe(0);
    expect((await head()).status).toBe('active');

    // The missing signers come back late (same replica files): they sign the waiting proposal; it
    // is final, not expired.
    cos[1] = start(1);
    cos[2] = start(2);
    await Promise.all([cosignerReady(cos[1]), cosignerReady(cos[2])]);
    await allExecuted(stuck, 'the waiting transactions once the signers are back');
    const r = (await http(node.url, 'GET', `/v1/subtrees/${subtree}/proposals?status=final`)).body.items;
    expect(r.some((p: { hash: string }) => p.hash === waiting.hash)).toBe(true);
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
