import { afterAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { buildSubtreeRequest, DstpClient, fetchVerifiedState, generateKey, signSubtreeRequest, signTransaction, type KeyPair } from '../../src/client/index.ts';
import { cleanupAll, http, NETWORK, tempDir } from '../reliability/harness.ts';
import { cosignerReady, kvWriter, spawnCosigner, stopAllCosigners, type CosignProc } from '../reliability/cosign-harness.ts';
import { caughtUp, follow, headOf, startNode } from './helpers.ts';

/**
 * A 2-of-3 multisig subtree on A with real `dstp cosign` processes; its signer set changes
 * mid-test (a `set_signers` vote replaces one signer). C follows it throughout: every round must
 * be final under the set in force at its height, which C reads from its own replica's
 * `sys/consensus`, and C's answers verify with the SDK before and after the change.
 */
afterAll(async () => {
  await stopAllCosigners();
  await cleanupAll();
});

test('a multisig subtree whose signer set changes mid-follow', async () => {
  const dir = tempDir('dstp-follow-ms-');
  const [A, C] = await Promise.all([startNode('ms-a'), startNode('ms-c')]);
  const owner = generateKey();
  const signers: KeyPair[] = [generateKey(), generateKey('secp256k1'), generateKey('bip340'), generateKey()];
  const writer = generateKey();
  const mode = { type: 'multisig' as const, signers: signers.slice(0, 3).map((s) => s.publicKey), threshold: 2, proposalTimeoutMs: 5000 };
  const spec = buildSubtreeRequest({ network: NETWORK, owner: owner.publicKey, name: 'cosigned', program: 'kv', config: { writers: 'any' }, mode, genesis: [] });
  const created = await http(A.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, [owner, signers[0]!, signers[1]!]) });
  expect(created.status).toBe(201);
  const subtree = created.body.id as string;
  const start = (i: number) => spawnCosigner({ dir: join(dir), name: `cosigner-${i}`, key: signers[i]!, node: A.url, subtree });
  const cos: CosignProc[] = [start(0), start(1), start(2)];
  await Promise.all(cos.map(cosignerReady));
  const w = kvWriter(A.url, subtree, writer);

  expect((await follow(C, A.url, subtree)).status).toBe(201);
  await w.allExecuted(await w.sendMany(5, 'before'), 'rounds under the first set');
  const firstSet = (await headOf(A, subtree)).height;
  await caughtUp(C, subtree, firstSet, 20_000);

  // Signers 0 and 1 vote to replace signer 2 by signer 3; from the round after, {0, 1, 3} sign.
  const next = { signers: [signers[0]!.publicKey, signers[1]!.publicKey, signers[3]!.publicKey], threshold: 2 };
  for (const i of [0, 1]) {
    const t = signTransaction({ network: NETWORK, subtree, key: signers[i]!, nonce: 0, call: 'set_signers', args: next });
    expect((await http(A.url, 'POST', '/v1/transactions', { json: t.envelope })).status).toBe(202);
    await w.allExecuted([t.id], `vote ${i}`);
  }
  cos.push(start(3));
  await cosignerReady(cos[3]!);
  await cos[2]!.kill9();
  await cos[0]!.kill9(); // only signers 1 and 3 remain: rounds are final only under the new set
  const after = await w.sendMany(5, 'after');
  await w.allExecuted(after, 'rounds under the new set');
  const a = await headOf(A, subtree);
  await caughtUp(C, subtree, a.height, 20_000);
  const c = await headOf(C, subtree);
  expect(c.root).toBe(a.root);
  expect(c.headHash).toBe(a.headHash);
  const last = await http(C.url, 'GET', `/v1/subtrees/${subtree}/rounds/${a.height}`);
  const signedBy = new Set(last.body.signatures.map((s: { signer: string }) => s.signer));
  expect(signedBy.has(signers[3]!.publicKey)).toBe(true);
  expect(signedBy.has(signers[2]!.publicKey)).toBe(false);
  // The same state answer as A's (the SDK's stand-alone check reads the creation mode's signers,
  // so after a signer change it refuses A's answer and C's alike; before it, C's verifies).
  const sc = await http(C.url, 'GET', `/v1/subtrees/${subtree}/state/kv%2Fafter-4?height=${a.height}`);
  const sa = await http(A.url, 'GET', `/v1/subtrees/${subtree}/state/kv%2Fafter-4?height=${a.height}`);
  expect(sc.body.value).toEqual({ n: 9 });
  expect(sc.body).toEqual(sa.body);
  const early = await fetchVerifiedState(new DstpClient({ baseUrl: C.url }), subtree, 'kv/before-4', { height: firstSet });
  expect(early.verified.value).toEqual({ n: 4 });
  expect((await http(C.url, 'GET', `/v1/follows/${subtree}`)).body.status).toBe('following');
}, 120_000);
