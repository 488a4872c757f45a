/**
 * Two node processes on ONE database file with the same node key, both running their schedulers
 * (20 ms interval, 500 ms lease), both taking transactions. Then the leader is paused (SIGSTOP,
 * as in a long GC pause or a frozen VM) past its lease and resumed — for a while two processes
 * each believe they lead — and finally the leader is SIGKILLed. Through all of it: one round per
 * height, no transaction executed twice, every accepted transaction executed, heights continue.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey, type KeyPair } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { balanceKey } from '../../src/core/programs/token.ts';
import {
  cleanupAll,
  countPending,
  createTokenSubtree,
  freezeOutsideWrite,
  headHeight,
  http,
  mapLimit,
  NETWORK,
  readLease,
  readLedger,
  spawnNode,
  tempDir,
  waitFor,
  type NodeProc,
} from './harness.ts';
import { checkAcks, checkLogShape, checkOutcomes, checkRounds, modelTransfers, replayMismatches } from './ledger.ts';
import { prober, runLoad } from './load.ts';

afterAll(cleanupAll);

const SENDERS = 16;
const TTL = 500;
const INTERVAL = 20;

/** Asks each live process to run a pass now; the lease holder answers `leader: true`. */
async function whoLeads(nodes: readonly NodeProc[]): Promise<{ leader: NodeProc; token: number } | undefined> {
  const reports = await Promise.all(nodes.map((n) => http(n.url, 'POST', '/v1/leader/tick', { admin: true })));
  for (const r of reports) if (r.status !== 200) throw new Error(`tick answered ${r.status}: ${JSON.stringify(r.body)}`);
  const leading = reports.flatMap((r, i) => (r.body.leader === true ? [{ leader: nodes[i]!, token: r.body.token as number }] : []));
  // Two processes cannot both hold the lease at once; none may hold it right at an expiry.
  if (leading.length > 1) throw new Error(`two processes report the lease at once: ${JSON.stringify(reports.map((r) => r.body))}`);
  return leading[0];
}

/** Polls the lease row until its token rises above `token`; returns how long that took. */
async function takeover(dbPath: string, token: number, since: number, timeoutMs: number): Promise<{ ms: number; token: number }> {
  return waitFor(
    `lease token above ${token}`,
    async () => {
      const l = await readLease(dbPath);
      return l && l.token > token ? { ms: Math.round(performance.now() - since), token: l.token } : undefined;
    },
    timeoutMs,
    10,
  );
}

describe('reliability: two leaders at once', () => {
  test('one round per height, no double execution, takeover after pause and kill -9', async () => {
    const t0 = performance.now();
    const dir = tempDir();
    const dbPath = join(dir, 'shared.db');
    const nodeKeyHex = toHex(crypto.getRandomValues(new Uint8Array(32)));
    const opts = { dbPath, nodeKeyHex, roundIntervalMs: INTERVAL, leaseTtlMs: TTL, log: 'info' as const };
    const a = await spawnNode(opts);
    const b = await spawnNode(opts);
    const nodeKey = (await http(a.url, 'GET', '/v1/info')).body.publicKey as string;
    expect((await http(b.url, 'GET', '/v1/info')).body.publicKey).toBe(nodeKey);

    const senders: KeyPair[] = Array.from({ length: SENDERS }, () => generateKey('ed25519'));
    // A sender outside the load: its transfers guarantee pending work at the moments that need it.
    const probeKey = generateKey('ed25519');
    const genesis = new Map([...senders.map((s, i) => [s.publicKey, i < 2 ? 2n : 500n] as const), [probeKey.publicKey, 100n] as const]);
    const st = await createTokenSubtree(a.url, { owner: generateKey(), authority: nodeKey, name: 'two-leaders', balances: Object.fromEntries(genesis) });

    const probe = prober(st.id, probeKey, senders[0]!.publicKey);
    let live: NodeProc[] = [a, b];
    let stop = false;
    const load = runLoad({
      subtree: st.id,
      senders,
      targets: () => live.map((n) => n.url),
      until: () => stop,
      amountFor: (i, n) => (n % 6 === 5 ? '0' : String(1 + ((n + i) % 4))),
      recipientFor: (i, n) => senders[(i + 1 + (n % 3)) % SENDERS]!.publicKey,
      retryOnError: true,
      // Requests caught by the freeze give up after 2 s and go to the other process (same body).
      timeoutMs: 2000,
    });
    // Read from the file, not over HTTP: a node waiting for SQLite's lock blocks its event loop.
    const heightNow = () => headHeight(dbPath, st.id);

    // Phase 1: both processes accept and both schedulers compete for the lease.
    await Bun.sleep(1200);
    const h1 = await heightNow();
    expect(h1).toBeGreaterThan(0);

    // Phase 2: freeze the leader past its lease, let the other take over, then wake it up.
    const first = await waitFor('a lease holder', () => whoLeads(live), 5000, 20);
    const paused = first.leader;
    const other = live.find((n) => n !== paused)!;
    live = [other];
    const pausedAt = await freezeOutsideWrite(dbPath, paused);
    let afterPause;
    let hPause = -1;
    try {
      // Work for the other process, whatever the load is doing (an idle node does not take the lease).
      await probe.send(other.url);
      afterPause = await takeover(dbPath, first.token, pausedAt, TTL + 3000);
      await Bun.sleep(300); // the new leader commits rounds while the old one still thinks it leads
      hPause = await heightNow();
    } finally {
      paused.proc.kill('SIGCONT');
    }
    live = [a, b];
    await Bun.sleep(800);
    const h2 = await heightNow();
    expect(h2).toBeGreaterThan(h1);

    // Phase 3: SIGKILL whoever leads now; the survivor takes over and continues the heights.
    const second = await waitFor('a lease holder', () => whoLeads(live), 5000, 20);
    const victim = second.leader;
    const survivor = live.find((n) => n !== victim)!;
    live = [survivor];
    const killedAt = performance.now();
    await victim.kill9();
    await probe.send(survivor.url);
    const afterKill = await takeover(dbPath, second.token, killedAt, TTL + 3000);
    const hKill = await heightNow();
    await Bun.sleep(800);
    stop = true;
    const result = await load;
    await waitFor('all transactions executed', async () => ((await countPending(dbPath, st.id)) === 0 ? true : undefined), 20_000);

    expect(result.unexpected).toEqual([]);
    expect(result.acks.length).toBeGreaterThan(50);

    const { log, rounds, logSize, height, request } = await readLedger(dbPath, st.id);
    expect(height).toBeGreaterThan(hKill);
    expect(checkLogShape(log, logSize)).toEqual([]);
    expect(checkRounds(rounds, log, { subtree: st.id, nodeKey, headHeight: height })).toEqual([]);
    expect(checkAcks([...result.acks, ...probe.acks], log, { subtree: st.id, nodeKey, network: NETWORK })).toEqual([]);
    expect(log.every((t) => t.status === 'executed' || t.status === 'failed')).toBe(true);
    // Re-executing the stored history from genesis reproduces every header (SPEC §8).
    expect(await replayMismatches(request, rounds, log)).toEqual([]);
    const model = modelTransfers(genesis, log);
    expect(checkOutcomes(log, model.outcome)).toEqual([]);

    // The survivor serves the balances the model predicts, and they sum to the supply.
    const states = await mapLimit(senders, 8, (s) => http(survivor.url, 'GET', `/v1/subtrees/${st.id}/state/${balanceKey(s.publicKey)}`));
    const balances = states.map((s) => (s.body.exists ? BigInt(s.body.value as string) : 0n));
    expect(balances).toEqual(senders.map((s) => model.balances.get(s.publicKey) ?? 0n));
    expect(balances.reduce((x, y) => x + y, 0n) + (model.balances.get(probeKey.publicKey) ?? 0n)).toBe(st.supply);

    expect(hPause).toBeGreaterThan(h1);
    expect(afterPause.ms).toBeLessThan(TTL + 1500);
    // Takeover after a SIGKILL waits out the dead leader's lease: at most TTL plus scheduling slack.
    expect(afterKill.ms).toBeLessThan(TTL + 1500);
    await survivor.stop();
    // No process hit an unexpected error; a fenced-off commit is logged at info, not as an error.
    const logs = [a, b].map((n) => n.stderr().split('\n').filter(Boolean));
    const errors = logs.flat().filter((l) => l.includes('"level":"error"'));
    expect(errors).toEqual([]);
    const fenced = logs.flat().filter((l) => l.includes('lease lost')).length;
    console.log(
      `[two-leaders] acked=${result.acks.length} retriedAfterError=${result.unknown.length} logged=${log.length} rounds=${rounds.length - 1} ` +
        `heights: phase1=${h1} pause=${hPause} resumed=${h2} kill=${hKill} final=${height}; ` +
        `takeover after SIGSTOP=${afterPause.ms}ms ` +
        `after SIGKILL=${afterKill.ms}ms (ttl ${TTL}); tokens ${first.token}→${afterPause.token}→${afterKill.token}; fenced passes=${fenced}; total=${Math.round(performance.now() - t0)}ms`,
    );
  }, 60_000);
});
