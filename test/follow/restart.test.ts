import { afterAll, beforeAll, expect, test } from 'bun:test';
import { generateKey } from '../../src/client/index.ts';
import { cleanupAll, createTokenSubtree, http, openReader, transfer } from '../reliability/harness.ts';
import { caughtUp, follow, headOf, startNode, until, type TestNode } from './helpers.ts';

/**
 * The follower is SIGKILLed in the middle of a catch-up and restarted on its database: it resumes
 * from the last round it committed and applies every round exactly once (rounds, log entries and
 * the round.finalized outbox rows are written together, so each is counted).
 */
const ROUNDS = 120;
let A: TestNode;
let C: TestNode;
let proxy: ReturnType<typeof Bun.serve>;
const owner = generateKey();
const bob = generateKey();
let coin: string;
/** Extra delay of each rounds page (the light follow's only per-round request). */
let slowRoundsMs = 0;

beforeAll(async () => {
  // One transaction per round on A, so a batch of ROUNDS transfers makes ROUNDS rounds.
  [A, C] = await Promise.all([startNode('restart-a', { DSTP_MAX_ROUND_TXS: '1' }), startNode('restart-c')]);
  // A slow link: each log read takes 15 ms more, so the catch-up lasts long enough to be cut.
  proxy = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const u = new URL(req.url);
      if (u.pathname.endsWith('/log')) await Bun.sleep(15);
      if (u.pathname.endsWith('/rounds')) await Bun.sleep(slowRoundsMs);
      const res = await fetch(A.url + u.pathname + u.search, { method: req.method, headers: req.headers, ...(req.method === 'GET' ? {} : { body: await req.text() }) });
      return new Response(res.body, { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? '' } });
    },
  });
  coin = (await createTokenSubtree(A.url, { owner, authority: A.publicKey, name: 'coin', balances: { [owner.publicKey]: 10_000n } })).id;
  const txs = Array.from({ length: ROUNDS }, (_, n) => transfer(coin, owner, n, bob.publicKey, '1').envelope);
  expect((await http(A.url, 'POST', '/v1/transactions/batch', { json: { txs } })).status).toBe(202);
  await until('A executed the batch', async () => ((await headOf(A, coin)).height === ROUNDS ? true : undefined), 60_000);
}, 90_000);

afterAll(async () => {
  proxy?.stop(true);
  await cleanupAll();
});

test('SIGKILL mid-catch-up, restart: resumes and applies no round twice', async () => {
  expect((await follow(C, `http://127.0.0.1:${proxy.port}`, coin)).status).toBe(201);
  const mid = await until('mid-catch-up', async () => {
    const h = (await http(C.url, 'GET', `/v1/follows/${coin}`)).body.height as number;
    return h >= 10 ? h : undefined;
  });
  await C.proc.kill9();
  expect(mid).toBeLessThan(ROUNDS);
  C = await startNode('restart-c', {}, { dbPath: C.dbPath, keyHex: C.keyHex });
  const f = await caughtUp(C, coin, ROUNDS, 60_000);
  expect(f.height).toBe(ROUNDS);
  const a = await headOf(A, coin);
  const c = await headOf(C, coin);
  expect(c.root).toBe(a.root);
  expect(c.headHash).toBe(a.headHash);
  expect(c.logSize).toBe(ROUNDS);

  const db = await openReader(C.dbPath);
  try {
    const rounds = await db.all('SELECT count(*) AS n, count(DISTINCT height) AS d, max(height) AS m FROM rounds WHERE subtree = ?', [coin]);
    expect(rounds[0]).toEqual({ n: ROUNDS + 1, d: ROUNDS + 1, m: ROUNDS });
    const txs = await db.all("SELECT count(*) AS n, count(DISTINCT seq) AS d, sum(status = 'executed') AS e FROM txs WHERE subtree = ?", [coin]);
    expect(txs[0]).toEqual({ n: ROUNDS, d: ROUNDS, e: ROUNDS });
    const events = await db.all("SELECT count(*) AS n, count(DISTINCT json_extract(data, '$.height')) AS d FROM events WHERE subtree = ? AND type = 'round.finalized'", [coin]);
    expect(events[0]).toEqual({ n: ROUNDS, d: ROUNDS });
  } finally {
    db.close();
  }
}, 120_000);

test('a light follow: SIGKILL mid-catch-up, restart: resumes from its last page and applies no round twice', async () => {
  slowRoundsMs = 300; // 20 rounds a page: six pages, each 300 ms late
  let D = await startNode('restart-d');
  try {
    expect((await http(D.url, 'POST', '/v1/follows', { json: { origin: `http://127.0.0.1:${proxy.port}`, subtree: coin, verify: 'headers' }, admin: true })).status).toBe(201);
    const mid = await until('mid-catch-up', async () => {
      const h = (await http(D.url, 'GET', `/v1/follows/${coin}`)).body.height as number;
      return h >= 20 ? h : undefined;
    });
    await D.proc.kill9();
    expect(mid).toBeLessThan(ROUNDS);
    D = await startNode('restart-d', {}, { dbPath: D.dbPath, keyHex: D.keyHex });
    const f = await caughtUp(D, coin, ROUNDS, 60_000);
    expect([f.height, f.verify]).toEqual([ROUNDS, 'headers']);
    const a = await headOf(A, coin);
    const d = await headOf(D, coin);
    expect([d.headHash, d.root, d.logSize]).toEqual([a.headHash, a.root, ROUNDS]);
    const db = await openReader(D.dbPath);
    try {
      expect((await db.all('SELECT count(*) AS n, count(DISTINCT height) AS d FROM rounds WHERE subtree = ?', [coin]))[0]).toEqual({ n: ROUNDS + 1, d: ROUNDS + 1 });
      expect((await db.all('SELECT count(*) AS n FROM txs WHERE subtree = ?', [coin]))[0]).toEqual({ n: 0 });
      const events = await db.all("SELECT count(*) AS n, count(DISTINCT json_extract(data, '$.height')) AS d FROM events WHERE subtree = ? AND type = 'round.finalized'", [coin]);
      expect(events[0]).toEqual({ n: ROUNDS, d: ROUNDS });
    } finally {
      db.close();
    }
  } finally {
    slowRoundsMs = 0;
  }
}, 120_000);
