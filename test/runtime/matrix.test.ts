/**
 * Runtime matrix: the same scenario (test/runtime/scenario.ts — create a subtree, 200 transfers in
 * 10 rounds, proofs at the head and in history) under Bun, Node, Deno and workerd, each started
 * the way its package script starts it. Bun, Node and Deno use an embedded libSQL file; workerd
 * (wrangler dev) can only use remote libSQL, so it talks Hrana over HTTP to the test libSQL
 * server on 127.0.0.1, and its last round is run by the cron handler (`/__scheduled`). Bun and
 * Deno run once more against that server (`http://` URL, @libsql/client's remote mode).
 *
 * All four must give identical per-round roots, tx lists, receipts and proofs, and each database
 * must replay from genesis to the same headers (an independent re-execution in the core).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { createClient as createWebClient } from '@libsql/client/web';
import { EXPLORER_JS, EXPLORER_VERSION } from '../../src/api/routes/explorer/assets.generated.ts';
import { publicKeyFromSecret } from '../../src/core/keys.ts';
import { fromHex } from '../../src/core/hex.ts';
import { startHranaServer, type HranaServer } from '../helpers/hrana-server.ts';
import { readLedger } from '../reliability/harness.ts';
import { checkLogShape, checkRounds, replayMismatches } from '../reliability/ledger.ts';
import { launch, requireOrSkip, RUNTIMES, stopAll, type RuntimeName } from './runtimes.ts';
import { ADMIN_TOKEN, NETWORK, NODE_KEY_HEX, runScenario, type DbHandle, type ScenarioResult } from './scenario.ts';

const dir = mkdtempSync(join(tmpdir(), 'dstp-matrix-'));
const hranas: HranaServer[] = [];
afterAll(async () => {
  await stopAll();
  for (const h of hranas) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A runtime with a database mode: the four runtimes, plus Bun and Deno over remote libSQL. */
interface Leg {
  label: string;
  runtime: RuntimeName;
  db: 'file' | 'http';
}
const LEGS: Leg[] = [
  ...RUNTIMES.map((r): Leg => ({ label: r, runtime: r, db: r === 'workerd' ? 'http' : 'file' })),
  { label: 'bun + remote libSQL', runtime: 'bun', db: 'http' },
  { label: 'deno + remote libSQL', runtime: 'deno', db: 'http' },
];

const results = new Map<string, ScenarioResult>();
const LEASE_TTL = 1000;
/** An accept's background pass on Workers retries a held lease for TTL + 2 s (worker.ts). */
const WORKER_PASS_RETRY_MS = LEASE_TTL + 2000;
const EXPECTED_NODE_KEY = publicKeyFromSecret('ed25519', fromHex(NODE_KEY_HEX, 32));

async function runOn(leg: Leg): Promise<void> {
  const name = leg.runtime;
  const dbPath = join(dir, `${leg.label.replace(/\W+/g, '-')}.db`);
  const env: Record<string, string> = {
    DSTP_NETWORK: NETWORK,
    DSTP_NODE_KEY: NODE_KEY_HEX,
    DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
    DSTP_ROUND_INTERVAL_MS: '50',
    DSTP_LEASE_TTL_MS: String(LEASE_TTL),
    // info: the start line names the crypto setup (checked below).
    DSTP_LOG: 'info',
  };
  let db: DbHandle;
  let close: () => void;
  let trigger: () => Promise<void>;
  let hrana: HranaServer | undefined;
  if (leg.db === 'http') {
    hrana = startHranaServer({ path: dbPath, synchronous: 'NORMAL' });
    hranas.push(hrana);
    env.DSTP_DATABASE_URL = hrana.url;
    // The test process also serves the database: reach it over HTTP too, never by a blocking file lock.
    const c = createWebClient({ url: hrana.url });
    db = { execute: (sql, args = []) => c.execute({ sql, args }) };
    close = () => c.close();
  } else {
    env.DSTP_DATABASE_URL = `file:${dbPath}`;
    env.DSTP_DATA_DIR = dir;
    const c = createClient({ url: `file:${dbPath}`, concurrency: 1 });
    await c.execute('PRAGMA busy_timeout = 5000');
    db = { execute: (sql, args = []) => c.execute({ sql, args }) };
    close = () => c.close();
  }
  const node = await launch(name, { env, timeoutMs: name === 'workerd' ? 90_000 : 30_000 });
  trigger =
    name === 'workerd'
      ? async () => {
          const res = await fetch(`${node.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
          expect(res.status).toBe(200);
          await res.text();
        }
      : async () => {}; // the in-process interval loop picks it up
  try {
    const r = await runScenario(node.url, {
      trigger,
      db,
      timeoutMs: 30_000,
      // On workerd, outwait the accept's own retrying pass, so the cron handler is what runs the round.
      ...(name === 'workerd' ? { blockedMs: WORKER_PASS_RETRY_MS + 500, triggerOnly: true } : {}),
    });
    results.set(leg.label, r);
    expect(r.nodeKey).toBe(EXPECTED_NODE_KEY);
    // Bun and Deno check signatures on a thread pool when there is a spare core; nothing failed over.
    if ((name === 'bun' || name === 'deno') && navigator.hardwareConcurrency > 1) {
      expect(node.output()).toMatch(/"crypto":"[^"]+ on \d+ threads?"/);
    }
    expect(node.output()).not.toContain('crypto thread failed');
    // The explorer page comes from the bundle compiled into the code: every runtime serves it, file system or not.
    const script = await fetch(`${node.url}/explorer/app.js?v=${EXPLORER_VERSION}`, { headers: { 'accept-encoding': 'gzip' } });
    expect({ status: script.status, same: (await script.text()) === EXPLORER_JS }).toEqual({ status: 200, same: true });
    console.log(
      `[matrix] ${leg.label}: cold start ${Math.round(node.coldStartMs)} ms, 200 txs in ${r.rounds.length - 1} rounds in ${Math.round(r.loadMs)} ms, ` +
        `${r.verified} proofs verified${hrana ? `; libSQL over HTTP: ${hrana.stats.pipelines} pipelines, ${hrana.stats.batonRequests} baton continuations` : ''}`,
    );
  } catch (err) {
    throw new Error(`${String(err)}\n--- ${leg.label} output ---\n${node.output()}`);
  } finally {
    await node.stop();
    close();
  }
  if (hrana) {
    // Interactive transactions really crossed HTTP requests (BEGIN … COMMIT by baton).
    expect(hrana.stats.transactionsHeldAcrossRequests).toBeGreaterThan(0);
    await hrana.close();
  }
  // Independently of the other runtimes: the stored history is sound and replays.
  const subtree = results.get(leg.label)!.subtree;
  const ledger = await readLedger(dbPath, subtree);
  expect(checkLogShape(ledger.log, ledger.logSize)).toEqual([]);
  expect(checkRounds(ledger.rounds, ledger.log, { subtree, nodeKey: EXPECTED_NODE_KEY, headHeight: ledger.height })).toEqual([]);
  expect(await replayMismatches(ledger.request, ledger.rounds, ledger.log)).toEqual([]);
}

describe('runtime matrix: same scenario, same roots and proofs', () => {
  for (const leg of LEGS) {
    test.skipIf(!requireOrSkip(leg.runtime))(leg.label, () => runOn(leg), 120_000);
  }

  test('every runtime produced identical rounds, receipts and proofs', () => {
    const ran = [...results.keys()];
    // In CI every leg must have run; elsewhere at least two, or there is nothing to compare.
    expect(ran.length).toBeGreaterThanOrEqual(process.env.CI ? LEGS.length : 2);
    const [first, ...others] = ran as [string, ...string[]];
    const ref = results.get(first!)!;
    expect(ref.rounds.length).toBe(11);
    expect(ref.txs.length).toBe(200);
    expect(ref.txs.filter((t) => t.status === 'failed').length).toBe(1);
    // The user program's round: ok, insufficient_balance, invalid_amount, each with gas.
    expect(ref.userProgram.receipts.map((r) => (r as { code?: string }).code ?? 'ok')).toEqual(['ok', 'insufficient_balance', 'invalid_amount']);
    for (const r of ref.userProgram.receipts) expect((r as { gas: number }).gas).toBeGreaterThan(0);
    for (const name of others) {
      const r = results.get(name)!;
      expect({ runtime: name, subtree: r.subtree }).toEqual({ runtime: name, subtree: ref.subtree });
      expect({ runtime: name, rounds: r.rounds }).toEqual({ runtime: name, rounds: ref.rounds });
      expect({ runtime: name, txs: r.txs }).toEqual({ runtime: name, txs: ref.txs });
      expect({ runtime: name, proofs: r.proofs }).toEqual({ runtime: name, proofs: ref.proofs });
      expect({ runtime: name, userProgram: r.userProgram }).toEqual({ runtime: name, userProgram: ref.userProgram });
    }
    console.log(`[matrix] identical across ${ran.join(', ')}: ${ref.rounds.length} rounds, ${ref.txs.length} txs, ${Object.keys(ref.proofs).length} proofs`);
  });
});
