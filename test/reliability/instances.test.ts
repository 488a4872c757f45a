/**
 * Many instances on one database: two Bun, one Node and one Deno node process on ONE libSQL file,
 * each with its own scheduler (20 ms interval, 1 s lease), all taking transactions from 16
 * concurrent senders. During the load the current leader is frozen past its lease (SIGSTOP) and
 * resumed, and later the leader of that moment is SIGKILLed. Through all of it: every accepted
 * transaction executed exactly once, heights contiguous with one round per height, and each time
 * another instance takes the lease within the lease time and continues the heights.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { generateKey, type KeyPair } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { balanceKey } from '../../src/core/programs/token.ts';
import { launch, requireOrSkip, stopAll, type RuntimeName, type RuntimeNode } from '../runtime/runtimes.ts';
import {
  ADMIN_TOKEN,
  cleanupAll,
  countPending,
  createTokenSubtree,
  headHeight,
  http,
  mapLimit,
  NETWORK,
  readLease,
  readLedger,
  tempDir,
  waitFor,
} from './harness.ts';
import { checkAcks, checkLogShape, checkOutcomes, checkRounds, modelTransfers, replayMismatches } from './ledger.ts';
import { runLoad } from './load.ts';

afterAll(async () => {
  await stopAll();
  await cleanupAll();
});

const SENDERS = 16;
const TTL = 1000;
const INTERVAL = 20;
/** Takeover may take the lease time plus a scheduling interval and a little slack (2 cores, 4 nodes, a load client). */
const TAKEOVER_BOUND = TTL + 1000;

/** Asks every instance to run a pass now; the lease holder answers `leader: true`. */
async function whoLeads(nodes: readonly RuntimeNode[]): Promise<{ leader: RuntimeNode; token: number } | undefined> {
  const reports = await Promise.all(nodes.map((n) => http(n.url, 'POST', '/v1/leader/tick', { admin: true })));
  for (const r of reports) if (r.status !== 200) throw new Error(`tick answered ${r.status}: ${JSON.stringify(r.body)}`);
  const leading = reports.flatMap((r, i) => (r.body.leader === true ? [{ leader: nodes[i]!, token: r.body.token as number }] : []));
  if (leading.length > 1) throw new Error(`two instances report the lease at once: ${JSON.stringify(reports.map((r) => r.body))}`);
  return leading[0];
}

async function takeover(dbPath: string, token: number, since: number): Promise<{ ms: number; token: number }> {
  return waitFor(
    `lease token above ${token}`,
    async () => {
      const l = await readLease(dbPath);
      return l && l.token > token ? { ms: Math.round(performance.now() - since), token: l.token } : undefined;
    },
    TAKEOVER_BOUND + 3000,
    10,
  );
}

/** Freezes a process while no write transaction of any process is open (it takes SQLite's lock first). */
async function freezeOutsideWrite(dbPath: string, node: RuntimeNode): Promise<void> {
  const c = createClient({ url: `file:${dbPath}`, concurrency: 1 });
  try {
    await c.execute('PRAGMA busy_timeout = 10000');
    const tx = await c.transaction('write');
    try {
      node.pause();
    } finally {
      await tx.rollback();
      tx.close();
    }
  } finally {
    c.close();
  }
}

describe('reliability: many instances on one database', () => {
  const kinds: RuntimeName[] = ['bun', 'bun', 'node', 'deno'];
  const runnable = kinds.filter((k, i) => kinds.indexOf(k) !== i || requireOrSkip(k));

  test(`${runnable.join(' + ')} with their schedulers: exactly once, contiguous heights, takeover within the lease`, async () => {
    const t0 = performance.now();
    const dir = tempDir('dstp-instances-');
    const dbPath = join(dir, 'shared.db');
    const env = {
      DSTP_DATABASE_URL: `file:${dbPath}`,
      DSTP_DATA_DIR: dir,
      DSTP_NETWORK: NETWORK,
      DSTP_NODE_KEY: toHex(crypto.getRandomValues(new Uint8Array(32))),
      DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
      DSTP_ROUND_INTERVAL_MS: String(INTERVAL),
      DSTP_LEASE_TTL_MS: String(TTL),
      DSTP_LOG: 'info',
    };
    // One after another: the first applies the migrations, the others find them applied.
    const nodes: RuntimeNode[] = [];
    for (const k of runnable) nodes.push(await launch(k, { env }));
    const nodeKey = (await http(nodes[0]!.url, 'GET', '/v1/info')).body.publicKey as string;
    for (const n of nodes) expect((await http(n.url, 'GET', '/v1/info')).body.publicKey).toBe(nodeKey);

    const senders: KeyPair[] = Array.from({ length: SENDERS }, () => generateKey('ed25519'));
    const genesis = new Map(senders.map((s, i) => [s.publicKey, i < 2 ? 3n : 500n]));
    const st = await createTokenSubtree(nodes[2]!.url, { owner: generateKey(), authority: nodeKey, name: 'instances', balances: Object.fromEntries(genesis) });

    let live = [...nodes];
    let stop = false;
    const load = runLoad({
      subtree: st.id,
      senders,
      targets: () => live.map((n) => n.url),
      until: () => stop,
      amountFor: (i, n) => (n % 7 === 6 ? '0' : String(1 + ((n + i) % 4))),
      recipientFor: (i, n) => senders[(i + 1 + (n % 5)) % SENDERS]!.publicKey,
      retryOnError: true,
      timeoutMs: 8000,
    });
    const heightNow = () => headHeight(dbPath, st.id);

    // Phase 1: every instance accepts; the schedulers compete for the lease.
    await Bun.sleep(1200);
    const h1 = await heightNow();
    expect(h1).toBeGreaterThan(0);

    // Phase 2: the leader stalls past its lease; another takes over and continues; the staller wakes up fenced.
    const first = await waitFor('a lease holder', () => whoLeads(live), 5000, 20);
    const stalled = first.leader;
    live = nodes.filter((n) => n !== stalled);
    const stalledAt = performance.now();
    await freezeOutsideWrite(dbPath, stalled);
    let afterStall;
    let hStall = -1;
    try {
      afterStall = await takeover(dbPath, first.token, stalledAt);
      await waitFor('a round by the new leader', async () => ((await heightNow()) > h1 ? true : undefined), 5000);
      hStall = await heightNow();
    } finally {
      stalled.resume();
    }
    live = [...nodes];
    await Bun.sleep(800);
    const h2 = await heightNow();
    expect(h2).toBeGreaterThan(hStall);

    // Phase 3: SIGKILL the leader of this moment; a survivor takes over within the lease time.
    const second = await waitFor('a lease holder', () => whoLeads(live), 5000, 20);
    const victim = second.leader;
    live = nodes.filter((n) => n !== victim);
    const killedAt = performance.now();
    await victim.kill9();
    const afterKill = await takeover(dbPath, second.token, killedAt);
    const hKill = await heightNow();
    await Bun.sleep(1000);
    stop = true;
    const result = await load;
    await waitFor('all transactions executed', async () => ((await countPending(dbPath, st.id)) === 0 ? true : undefined), 20_000);

    expect(result.unexpected).toEqual([]);
    expect(result.acks.length).toBeGreaterThan(100);

    const { log, rounds, logSize, height, request } = await readLedger(dbPath, st.id);
    expect(height).toBeGreaterThan(hKill);
    expect(checkLogShape(log, logSize)).toEqual([]);
    expect(checkRounds(rounds, log, { subtree: st.id, nodeKey, headHeight: height })).toEqual([]);
    expect(checkAcks(result.acks, log, { subtree: st.id, nodeKey, network: NETWORK })).toEqual([]);
    expect(log.every((t) => t.status === 'executed' || t.status === 'failed')).toBe(true);
    expect(await replayMismatches(request, rounds, log)).toEqual([]);
    const model = modelTransfers(genesis, log);
    expect(checkOutcomes(log, model.outcome)).toEqual([]);

    // Every survivor, whatever its runtime, serves the balances the model predicts.
    for (const n of live) {
      const states = await mapLimit(senders, 8, (s) => http(n.url, 'GET', `/v1/subtrees/${st.id}/state/${balanceKey(s.publicKey)}`));
      expect(states.map((s) => (s.body.exists ? BigInt(s.body.value as string) : 0n))).toEqual(senders.map((s) => model.balances.get(s.publicKey) ?? 0n));
    }

    expect(afterStall.ms).toBeLessThan(TAKEOVER_BOUND);
    expect(afterKill.ms).toBeLessThan(TAKEOVER_BOUND);
    const outputs = nodes.map((n) => n.output());
    await Promise.all(live.map((n) => n.stop()));
    const errors = outputs.flatMap((o) => o.split('\n')).filter((l) => l.includes('"level":"error"'));
    expect(errors).toEqual([]);
    console.log(
      `[instances] ${runnable.join('+')}: acked=${result.acks.length} retried=${result.unknown.length} logged=${log.length} rounds=${rounds.length - 1}; ` +
        `stalled ${stalled.runtime} → takeover ${afterStall.ms} ms; killed ${victim.runtime} → takeover ${afterKill.ms} ms (lease ${TTL} ms); ` +
        `heights ${h1}/${hStall}/${h2}/${hKill}/${height}; total ${Math.round(performance.now() - t0)} ms`,
    );
  }, 90_000);
});
