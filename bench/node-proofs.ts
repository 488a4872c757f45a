/**
 * Proofs served per second (issue 3: ≥ 10,000/s): `GET /v1/subtrees/:id/state/balance/<account>`
 * with 64 keep-alive connections, closed loop, over a token subtree holding BENCH_PROOF_ACCOUNTS
 * (default 10,000) balances. Every answer carries the value, its SPEC §4 proof and the signed
 * round. The accounts are minted through POST /v1/transactions/batch and executed by the node's
 * own leader before timing. After timing, a random sample of answers (and one absent account) is
 * verified client-side with the core's verifyProof against the root of the signed round header.
 *
 * Run: `bun bench/node-proofs.ts` (~40 s). Env: BENCH_PROOF_ACCOUNTS, BENCH_PROOF_MS (8000).
 */
import { rmSync } from 'node:fs';
import { toHex } from '../src/core/hex.ts';
import { balanceKey } from '../src/core/programs/token.ts';
import type { Proof } from '../src/core/smt/types.ts';
import { verifyProof } from '../src/core/smt/verify.ts';
import { createNodeSigner } from '../src/platform/node-signer.ts';
import { nativeSha256 } from '../src/platform/sha256.ts';
import {
  accountKeys,
  benchDir,
  closedLoop,
  createTokenSubtree,
  encodeRequest,
  envInt,
  fmtInt,
  fmtMs,
  getJson,
  makeParties,
  openConnections,
  PIN,
  pinSelf,
  postJson,
  signCall,
  startBenchServer,
  waitExecuted,
  writeResult,
  OtherLoad,
  serverStats,
  waitQuiet,
} from './load-client.ts';

const CONNECTIONS = 64;
const ACCOUNTS = envInt('BENCH_PROOF_ACCOUNTS', 10_000);
const MEASURE_MS = envInt('BENCH_PROOF_MS', 8_000);
const WARMUP_MS = 1000;
const SAMPLE = 200;
const MINT = '1000';
const NETWORK = 'dstp-bench';
const ADMIN = 'bench-admin-token-0123456789';

interface StateAnswer {
  key: string;
  exists: boolean;
  value?: string;
  root: string;
  height: number;
  proof: Proof;
  round: { header: { stateRoot: string } };
}

pinSelf(1);
const dir = benchDir('proofs');
const nodeSecret = crypto.getRandomValues(new Uint8Array(32));
const nodeKey = (await createNodeSigner(nodeSecret)).publicKey;
const server = await startBenchServer({ dir, nodeKeyHex: toHex(nodeSecret), adminToken: ADMIN, network: NETWORK, profileName: 'node-proofs' });
try {
  const base = server.url;
  const host = new URL(base).host;
  console.log(`node-proofs: server ${base}, ${fmtInt(ACCOUNTS)} accounts, ${CONNECTIONS} connections`);

  // ---- setup, untimed: mint to every account, let the leader execute it
  let t = performance.now();
  const [owner] = await makeParties(1);
  const accounts = accountKeys(ACCOUNTS);
  const subtree = await createTokenSubtree(base, { network: NETWORK, adminToken: ADMIN, nodeKey, owner: owner!, name: 'bench-proofs', balances: {} });
  let lastId = '';
  for (let from = 0; from < ACCOUNTS; from += 1000) {
    const txs = [];
    for (let i = from; i < Math.min(ACCOUNTS, from + 1000); i++) {
      const s = await signCall(owner!, { network: NETWORK, subtree, nonce: i, call: 'mint', args: { to: accounts[i]!, amount: MINT } });
      txs.push(JSON.parse(s.body));
      lastId = s.id;
    }
    const res = await postJson<{ items: { status: number }[] }>(base, '/v1/transactions/batch', { txs });
    const bad = res.body.items.filter((x) => x.status !== 202).length;
    if (res.status !== 202 || bad > 0) throw new Error(`mint batch: ${res.status}, ${bad} items refused`);
  }
  if (!(await waitExecuted(base, [lastId], 60_000))) throw new Error('mints were not executed within 60 s');
  const head = await getJson<{ height: number; root: string }>(base, `/v1/subtrees/${subtree}`);
  console.log(`  ${fmtInt(ACCOUNTS)} accounts minted and executed (height ${head.height}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // Every connection walks the accounts from its own offset, so reads spread over the whole tree.
  const reqs = accounts.map((a) => encodeRequest(host, { method: 'GET', path: `/v1/subtrees/${subtree}/state/${balanceKey(a)}` }).bytes);
  await waitQuiet();
  const conns = await openConnections(base, CONNECTIONS);
  const s0 = await serverStats(base);
  const other = new OtherLoad(s0.cpu);
  const stride = Math.floor(ACCOUNTS / CONNECTIONS);
  const r = await closedLoop(conns, {
    durationMs: MEASURE_MS + WARMUP_MS,
    warmupMs: WARMUP_MS,
    next: (c, i) => reqs[(c * stride + i * 7919) % ACCOUNTS]!,
    check: (_c, res) => res.status === 200,
  });
  const s1 = await serverStats(base);
  const otherShare = other.share(s1.cpu);
  const cpuUsPerProof = (s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system) / Math.max(1, r.count);
  for (const c of conns) c.close();
  console.log(
    `  proofs: ${fmtInt(r.perSec)} /s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  errors ${r.errors}; ` +
      `server CPU ${cpuUsPerProof.toFixed(0)} µs per proof  [other processes: ${(otherShare * 100).toFixed(0)} % of the machine]`,
  );

  // ---- verify a sample client-side (untimed): value, proof fold, and the signed header's root
  const hash = nativeSha256();
  t = performance.now();
  let siblings = 0;
  for (let i = 0; i < SAMPLE; i++) {
    const account = accounts[Math.floor(Math.random() * ACCOUNTS)]!;
    const a = await getJson<StateAnswer>(base, `/v1/subtrees/${subtree}/state/${balanceKey(account)}`);
    if (!a.exists || a.value !== MINT) throw new Error(`balance of ${account}: ${JSON.stringify(a.value)}`);
    if (a.round.header.stateRoot !== a.root) throw new Error('state root differs from the signed round header');
    verifyProof(a.proof, { key: balanceKey(account), value: MINT, root: a.round.header.stateRoot }, hash);
    siblings += a.proof.siblings.length;
  }
  const absentKey = balanceKey(accountKeys(1)[0]!);
  const absent = await getJson<StateAnswer>(base, `/v1/subtrees/${subtree}/state/${absentKey}`);
  if (absent.exists) throw new Error('a fresh account exists');
  verifyProof(absent.proof, { key: absentKey, root: absent.round.header.stateRoot }, hash);
  console.log(`  verified ${SAMPLE} inclusion proofs (avg ${(siblings / SAMPLE).toFixed(1)} siblings) and 1 exclusion proof client-side`);

  await writeResult('node-proofs', { accounts: ACCOUNTS, ...r, cpuUsPerProof, otherLoad: otherShare, verified: SAMPLE + 1, avgSiblings: siblings / SAMPLE, pinned: PIN });
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
