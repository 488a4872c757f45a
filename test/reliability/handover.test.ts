/**
 * Two processes on one database file (default 5 s lease). A graceful stop (SIGTERM) of the leader
 * under load hands the lease over at once instead of after the TTL, and loses nothing it
 * acknowledged. And the same signed transaction fired at both processes at once is accepted once.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey, type KeyPair } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import {
  cleanupAll,
  countPending,
  createTokenSubtree,
  http,
  NETWORK,
  readLease,
  readLedger,
  spawnNode,
  tempDir,
  transfer,
  waitFor,
  type NodeProc,
} from './harness.ts';
import { checkAcks, checkLogShape, checkOutcomes, checkRounds, modelTransfers, replayMismatches } from './ledger.ts';
import { runLoad } from './load.ts';

afterAll(cleanupAll);

const TTL = 5000;

async function pair(name: string) {
  const dir = tempDir();
  const dbPath = join(dir, 'shared.db');
  const opts = { dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), roundIntervalMs: 20, leaseTtlMs: TTL };
  const a = await spawnNode(opts);
  const b = await spawnNode(opts);
  const nodeKey = (await http(a.url, 'GET', '/v1/info')).body.publicKey as string;
  const senders: KeyPair[] = Array.from({ length: 12 }, () => generateKey('ed25519'));
  // Outside the load: its transfer guarantees pending work when a handover is measured.
  const prober = generateKey('ed25519');
  const genesis = new Map([...senders, prober].map((s) => [s.publicKey, 300n]));
  const st = await createTokenSubtree(a.url, { owner: senders[0]!, authority: nodeKey, name, balances: Object.fromEntries(genesis) });
  return { dbPath, a, b, nodeKey, senders, prober, genesis, st };
}

describe('reliability: graceful handover between processes', () => {
  test('SIGTERM of the leader under load: the other process leads at once, nothing acknowledged is lost', async () => {
    const t0 = performance.now();
    const { dbPath, a, b, nodeKey, senders, prober, genesis, st } = await pair('handover');
    let live: NodeProc[] = [a, b];
    let stop = false;
    const load = runLoad({
      subtree: st.id,
      senders,
      targets: () => live.map((n) => n.url),
      until: () => stop,
      amountFor: (i, n) => String(1 + ((n + i) % 3)),
      recipientFor: (i, n) => senders[(i + 1 + (n % 4)) % senders.length]!.publicKey,
      retryOnError: true,
    });
    await Bun.sleep(800);

    // A tick that finds nothing pending is idle and names no leader: tick until one leads.
    const { reports, leaderIndex } = await waitFor(
      'a tick that leads',
      async () => {
        const reports = await Promise.all([a, b].map((n) => http(n.url, 'POST', '/v1/leader/tick', { admin: true })));
        const leaderIndex = reports.findIndex((r) => r.body.leader === true);
        return leaderIndex === -1 ? undefined : { reports, leaderIndex };
      },
      5000,
      5,
    );
    const leader = [a, b][leaderIndex]!;
    const other = [a, b][1 - leaderIndex]!;
    const token = reports[leaderIndex]!.body.token as number;
    live = [other];
    const stoppedAt = performance.now();
    await leader.stop(10_000);
    expect(leader.proc.exitCode).toBe(0); // a clean shutdown, not the SIGKILL fallback
    const probe = transfer(st.id, prober, 0, senders[1]!.publicKey, '5');
    const probed = await http(other.url, 'POST', '/v1/transactions', { json: probe.envelope });
    expect(probed.status).toBe(202);
    const took = await waitFor(
      'the other process to take the lease',
      async () => {
        const l = await readLease(dbPath);
        return l && l.token > token ? Math.round(performance.now() - stoppedAt) : undefined;
      },
      TTL + 3000,
      10,
    );
    await Bun.sleep(500);
    stop = true;
    const result = await load;
    await waitFor('all transactions executed', async () => ((await countPending(dbPath, st.id)) === 0 ? true : undefined), 20_000);

    expect(result.unexpected).toEqual([]);
    const { log, rounds, logSize, height, request } = await readLedger(dbPath, st.id);
    // Requests cut by the shutdown (connection reset) were retried on the other process with the
    // same signed body; whatever the first attempt did, each id is in the log once (checkLogShape).
    const cut = result.unknown.length;
    expect(checkLogShape(log, logSize)).toEqual([]);
    expect(checkRounds(rounds, log, { subtree: st.id, nodeKey, headHeight: height })).toEqual([]);
    expect(checkAcks([...result.acks, { id: probe.id, sender: prober.publicKey, nonce: 0, status: 202, accept: probed.body.accept, sig: probed.body.sig }], log, { subtree: st.id, nodeKey, network: NETWORK })).toEqual([]);
    expect(checkOutcomes(log, modelTransfers(genesis, log).outcome)).toEqual([]);
    expect(await replayMismatches(request, rounds, log)).toEqual([]);
    // The lease was released on shutdown: far sooner than waiting out a 5 s TTL.
    expect(took).toBeLessThan(1500);
    await other.stop();
    console.log(
      `[handover] acked=${result.acks.length} cutByShutdown=${cut} rounds=${rounds.length - 1} takeover after SIGTERM=${took}ms (ttl ${TTL}); ` +
        `total=${Math.round(performance.now() - t0)}ms`,
    );
  }, 60_000);

  test('the same signed transaction sent to both processes at once is accepted exactly once', async () => {
    const { dbPath, a, b, senders, st } = await pair('dupes');
    const problems: string[] = [];
    for (let nonce = 0; nonce < 5; nonce++) {
      const tx = transfer(st.id, senders[1]!, nonce, senders[2]!.publicKey, '1');
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => http((i % 2 ? a : b).url, 'POST', '/v1/transactions', { json: tx.envelope })));
      const created = answers.filter((r) => r.status === 202);
      const known = answers.filter((r) => r.status === 200);
      if (created.length !== 1 || known.length !== 15) problems.push(`nonce ${nonce}: ${answers.map((r) => r.status).join(',')}`);
      // Every answer carries the same acceptance: same seq, time and (deterministic) signature.
      if (new Set(answers.map((r) => JSON.stringify([r.body.accept, r.body.sig]))).size !== 1) problems.push(`nonce ${nonce}: acceptances differ`);
    }
    expect(problems).toEqual([]);
    await waitFor('all transactions executed', async () => ((await countPending(dbPath, st.id)) === 0 ? true : undefined), 15_000);
    const { log, rounds } = await readLedger(dbPath, st.id);
    expect(log.map((t) => t.nonce)).toEqual([0, 1, 2, 3, 4]);
    expect(rounds.flatMap((r) => r.txIds)).toEqual(log.map((t) => t.id));
  }, 60_000);
});
