/**
 * SPEC §6: "202 means durably appended … a crash after 202 loses nothing." 32 senders stream
 * sequential transfers at a real node process; it is SIGKILLed mid-stream and restarted on the same
 * libSQL file. Nothing acknowledged may be lost, reordered, duplicated or executed twice.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey, type KeyPair } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { balanceKey, SUPPLY_KEY } from '../../src/core/programs/token.ts';
import { cleanupAll, countPending, createTokenSubtree, http, mapLimit, NETWORK, readLedger, spawnNode, tempDir, waitFor } from './harness.ts';
import { checkAcks, checkLogShape, checkOutcomes, checkRounds, modelTransfers, replayMismatches } from './ledger.ts';
import { killWithRequestsInFlight, runLoad } from './load.ts';

afterAll(cleanupAll);

const SENDERS = 32;
const LOAD_MS = 1500;

describe('reliability: kill -9 under load', () => {
  test('every acknowledged transaction survives SIGKILL and executes exactly once', async () => {
    const t0 = performance.now();
    const dir = tempDir();
    const dbPath = join(dir, 'node.db');
    const nodeKeyHex = toHex(crypto.getRandomValues(new Uint8Array(32)));
    // Short lease so the restarted process need not wait 5 s for the dead one's lease to lapse.
    // Small rounds so the leader lags the accepts and the crash leaves a backlog of accepted, unexecuted txs.
    const opts = { dbPath, nodeKeyHex, roundIntervalMs: 50, leaseTtlMs: 800, maxRoundTxs: 8 };
    const node = await spawnNode(opts);
    const info = await http(node.url, 'GET', '/v1/info');
    const nodeKey = info.body.publicKey as string;

    const senders: KeyPair[] = Array.from({ length: SENDERS }, () => generateKey('ed25519'));
    // Sender 0 starts poor, so some of its transfers are refused at the door (admission) or fail
    // in execution (insufficient_balance, when a spend in flight took what it counted on).
    const genesis = new Map(senders.map((s, i) => [s.publicKey, i === 0 ? 3n : 1000n + BigInt(i)]));
    const owner = generateKey('ed25519');
    const st = await createTokenSubtree(node.url, { owner, authority: nodeKey, name: 'kill9', balances: Object.fromEntries(genesis) });

    const started = performance.now();
    let killedAt = 0;
    const live = { inFlight: 0 };
    const load = runLoad({
      live,
      subtree: st.id,
      senders,
      targets: () => (killedAt ? [] : [node.url]),
      until: () => performance.now() - started > 20_000, // the kill ends the load long before this
      // Every 7th transfer is "0": it fails at execution (invalid_amount) and still takes its nonce.
      amountFor: (i, n) => (n % 7 === 3 ? '0' : String(1 + ((n * 7 + i) % 5))),
      recipientFor: (i, n) => senders[(i + 1 + (n % 5)) % SENDERS]!.publicKey,
    });
    await Bun.sleep(LOAD_MS);
    await killWithRequestsInFlight(node, live, SENDERS / 2, () => (killedAt = performance.now()));
    const result = await load;
    const loadDone = performance.now();

    expect(result.unexpected).toEqual([]);
    expect(result.acks.length).toBeGreaterThan(64);
    // The kill must have cut requests in flight, or this test would prove nothing about a crash.
    expect(result.unknown.length).toBeGreaterThan(0);

    const before = await readLedger(dbPath, st.id);
    const pendingAtCrash = before.log.filter((t) => t.status === 'pending').length;

    const again = await spawnNode(opts);
    await waitFor('all transactions executed after restart', async () => ((await countPending(dbPath, st.id)) === 0 ? true : undefined), 30_000);
    const recovered = performance.now();

    const { log, rounds, logSize, height, request } = await readLedger(dbPath, st.id);
    // Committed history is never rewritten by recovery: the pre-crash log is a prefix.
    expect(log.slice(0, before.log.length).map((t) => t.id)).toEqual(before.log.map((t) => t.id));
    expect(log.length).toBe(before.log.length); // nothing sends after the crash
    expect(checkLogShape(log, logSize)).toEqual([]);
    expect(checkRounds(rounds, log, { subtree: st.id, nodeKey, headHeight: height })).toEqual([]);
    expect(checkAcks(result.acks, log, { subtree: st.id, nodeKey, network: NETWORK })).toEqual([]);
    expect(log.every((t) => t.status === 'executed' || t.status === 'failed')).toBe(true);

    // Re-executing the stored history from genesis reproduces every header (SPEC §8).
    expect(await replayMismatches(request, rounds, log)).toEqual([]);
    const model = modelTransfers(genesis, log);
    expect(checkOutcomes(log, model.outcome)).toEqual([]);
    expect(result.refused + log.filter((t) => t.code === 'insufficient_balance').length).toBeGreaterThan(0);
    expect(log.some((t) => t.code === 'invalid_amount')).toBe(true);

    // Through the API of the restarted node: every acknowledged id has one status, its seq, and
    // the same acceptance signature (ed25519 is deterministic and the accept fields are stored).
    const views = await mapLimit(result.acks, 16, (a) => http(again.url, 'GET', `/v1/transactions/${a.id}`));
    const apiProblems: string[] = [];
    views.forEach((v, i) => {
      const a = result.acks[i]!;
      const row = log.find((t) => t.id === a.id);
      if (v.status !== 200) apiProblems.push(`${a.id.slice(0, 12)}: GET ${v.status}`);
      else if (v.body.status !== row?.status || v.body.seq !== a.accept.seq || v.body.sig !== a.sig || v.body.height !== row?.height) {
        apiProblems.push(`${a.id.slice(0, 12)}: ${JSON.stringify({ status: v.body.status, seq: v.body.seq, height: v.body.height })}`);
      }
    });
    expect(apiProblems).toEqual([]);

    // Balances: the node's state equals the model, and sums to the supply.
    const states = await mapLimit(senders, 8, (s) => http(again.url, 'GET', `/v1/subtrees/${st.id}/state/${balanceKey(s.publicKey)}`));
    let sum = 0n;
    states.forEach((s, i) => {
      expect(s.status).toBe(200);
      const got = s.body.exists ? BigInt(s.body.value as string) : 0n;
      expect(got).toBe(model.balances.get(senders[i]!.publicKey) ?? 0n);
      sum += got;
    });
    expect(sum).toBe(st.supply);
    const supply = await http(again.url, 'GET', `/v1/subtrees/${st.id}/state/${SUPPLY_KEY}`);
    expect(supply.body.value).toBe(st.supply.toString());

    await again.stop();
    console.log(
      `[kill9] acked=${result.acks.length} inFlightAtKill=${result.unknown.length} logged=${log.length} ` +
        `pendingAtCrash=${pendingAtCrash} rounds=${rounds.length - 1} load=${Math.round(loadDone - started)}ms ` +
        `restart→all executed=${Math.round(recovered - loadDone)}ms total=${Math.round(performance.now() - t0)}ms`,
    );
  }, 60_000);

  test('repeated crashes: clients resubmit requests of unknown outcome; each is accepted once, at its first seq', async () => {
    const t0 = performance.now();
    const dir = tempDir();
    const dbPath = join(dir, 'node.db');
    const opts = { dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), roundIntervalMs: 50, leaseTtlMs: 600, maxRoundTxs: 16 };
    let node = await spawnNode(opts);
    const nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
    const senders: KeyPair[] = Array.from({ length: 16 }, () => generateKey('ed25519'));
    const genesis = new Map(senders.map((s) => [s.publicKey, 400n]));
    const st = await createTokenSubtree(node.url, { owner: senders[0]!, authority: nodeKey, name: 'crashes', balances: Object.fromEntries(genesis) });

    let up = true;
    let stop = false;
    const live = { inFlight: 0 };
    const load = runLoad({
      live,
      subtree: st.id,
      senders,
      targets: () => (up ? [node.url] : []),
      until: () => stop,
      amountFor: (i, n) => String(1 + ((n + i) % 4)),
      recipientFor: (i, n) => senders[(i + 3 + n) % senders.length]!.publicKey,
      // A request cut by the crash has an unknown outcome: the client sends the SAME signed body
      // again after the restart, and gets 200 (it was logged) or 202 (it was not), never both.
      retryOnError: true,
      waitForTargets: true,
    });
    const CRASHES = 3;
    for (let c = 0; c < CRASHES; c++) {
      await Bun.sleep(700);
      await killWithRequestsInFlight(node, live, senders.length / 2, () => (up = false));
      node = await spawnNode(opts);
      up = true;
    }
    await Bun.sleep(500);
    stop = true;
    const result = await load;
    await waitFor('all transactions executed', async () => ((await countPending(dbPath, st.id)) === 0 ? true : undefined), 30_000);

    expect(result.unexpected).toEqual([]);
    expect(result.unknown.length).toBeGreaterThan(0);
    const { log, rounds, logSize, height, request } = await readLedger(dbPath, st.id);
    expect(checkLogShape(log, logSize)).toEqual([]);
    expect(checkRounds(rounds, log, { subtree: st.id, nodeKey, headHeight: height })).toEqual([]);
    // A resubmitted id answered 200 carries the acceptance of its first (pre-crash) append.
    expect(checkAcks(result.acks, log, { subtree: st.id, nodeKey, network: NETWORK })).toEqual([]);
    expect(checkOutcomes(log, modelTransfers(genesis, log).outcome)).toEqual([]);
    expect(await replayMismatches(request, rounds, log)).toEqual([]);
    // Every sender's transactions, acknowledged or not, form one gap-free nonce run that the
    // acknowledgements cover: nothing the client thinks it sent is missing.
    for (const s of senders) {
      const acked = result.acks.filter((a) => a.sender === s.publicKey).map((a) => a.nonce);
      const logged = log.filter((t) => t.sender === s.publicKey).map((t) => t.nonce);
      expect(logged.slice(0, acked.length)).toEqual(acked);
      expect(logged.length - acked.length).toBeLessThanOrEqual(1);
    }
    const resubmitted = result.acks.filter((a) => a.status === 200).length;
    await node.stop();
    console.log(
      `[kill9 x${CRASHES}] acked=${result.acks.length} cut=${result.unknown.length} resubmitted→200=${resubmitted} logged=${log.length} ` +
        `rounds=${rounds.length - 1} total=${Math.round(performance.now() - t0)}ms`,
    );
  }, 60_000);
});
