import { afterAll, describe, expect, test } from 'bun:test';
import { request } from 'node:http';
import { join } from 'node:path';
import { adminHeader, call, party, REPO_ROOT, signedTx, startServer, startServerProcess, subtreeRequest, type Party, type TestServer } from '../helpers/server.ts';

/**
 * Write limits on a real node: clients are told apart by their socket address (distinct loopback
 * sources 127.0.0.2/.3/.4), a flood from one address costs another client nothing, and every
 * refusal is 429 problem+json with Retry-After. Nothing refused is appended.
 */
const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

interface Answer {
  status: number;
  code?: string;
  retryAfter: string | null;
  ms: number;
}

/** One POST over node:http from a chosen loopback source address (fetch cannot choose one). */
function post(base: string, path: string, body: unknown, from: string, opts: { headers?: Record<string, string> } = {}): Promise<Answer> {
  const u = new URL(base);
  const data = JSON.stringify(body);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: Number(u.port),
        path,
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const type = String(res.headers['content-type'] ?? '');
          const code = type.startsWith('application/problem+json') ? (JSON.parse(text) as { code: string }).code : undefined;
          resolve({ status: res.statusCode!, ...(code ? { code } : {}), retryAfter: (res.headers['retry-after'] as string | undefined) ?? null, ms: performance.now() - t0 });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function kvSubtree(s: TestServer, owner: Party, name: string): Promise<string> {
  const r = subtreeRequest({ network: s.network, owner, name, program: 'kv', config: { writers: 'any' }, authority: s.nodeKey });
  const res = await call(s.url, 'POST', '/v1/subtrees', { json: r.body, headers: adminHeader() });
  expect(res.status).toBe(201);
  return r.id;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

describe('per client address', () => {
  test('a flood from one address (64 connections) leaves a polite client on another at 20 tx/s untouched', async () => {
    const s = await startServerProcess({ env: { DSTP_RATE_LIMIT: '100/s', DSTP_SENDER_RATE_LIMIT: '1000/s' } });
    servers.push(s);
    const owner = party('rl-owner');
    const subtree = await kvSubtree(s, owner, 'polite');
    let phase = 0;

    // 20 transactions a second for 3 s, open loop: each leaves on its schedule whatever the others do.
    // Each transaction from its own sender (nonce 0), so arrival order under load changes nothing.
    const politePhase = async () => {
      phase++;
      const t0 = performance.now();
      const sent = Array.from({ length: 60 }, async (_, i) => {
        await Bun.sleep(Math.max(0, t0 + i * 50 - performance.now()));
        const tx = signedTx(party(`rl-polite-${phase}-${i}`), { network: s.network, subtree, nonce: 0, call: 'set', args: { key: `p${i}`, value: i } });
        return post(s.url, '/v1/transactions', tx, '127.0.0.3');
      });
      return Promise.all(sent);
    };

    const calm = await politePhase();
    expect(calm.filter((a) => a.status === 202)).toHaveLength(60);

    // The flood: 64 connections from 127.0.0.2, closed loop, a valid signed transaction each time,
    // from a process of its own (so the polite client's own event loop is not the one flooded).
    const flooder = party('rl-flooder');
    const floodTx = signedTx(flooder, { network: s.network, subtree, nonce: 0, call: 'set', args: { key: 'f', value: 1 } });
    const flood = Bun.spawn([process.execPath, join(REPO_ROOT, 'test/helpers/flood.ts'), `${s.url}/v1/transactions`, '127.0.0.2', '64', '4000'], {
      stdin: new TextEncoder().encode(JSON.stringify(floodTx)),
      stdout: 'pipe',
    });
    await Bun.sleep(500);
    const stormy = await politePhase();
    const floodCodes = new Map(Object.entries(JSON.parse(await new Response(flood.stdout).text()) as Record<string, number>).map(([k, v]) => [Number(k), v]));
    await flood.exited;

    const calmOk = calm.filter((a) => a.status === 202).length;
    const stormyOk = stormy.filter((a) => a.status === 202).length;
    const calmMs = calm.map((a) => a.ms);
    const stormyMs = stormy.map((a) => a.ms);
    console.log(
      `polite client: ${calmOk}/60 accepted unflooded (p50 ${pct(calmMs, 50).toFixed(1)} ms, p99 ${pct(calmMs, 99).toFixed(1)} ms), ` +
        `${stormyOk}/60 under the flood (p50 ${pct(stormyMs, 50).toFixed(1)} ms, p99 ${pct(stormyMs, 99).toFixed(1)} ms); ` +
        `flood answers ${JSON.stringify(Object.fromEntries(floodCodes))}`,
    );
    expect(stormy.filter((a) => a.status === 429)).toEqual([]);
    expect(stormy.filter((a) => a.status !== 202).map((a) => a.code)).toEqual([]);
    expect(stormyOk).toBeGreaterThanOrEqual(Math.ceil(0.8 * calmOk));
    // The flood was real and was limited: one 202 (then 200s for the same id) within its burst, then 429s.
    expect(floodCodes.get(429) ?? 0).toBeGreaterThan(500);
    expect((floodCodes.get(200) ?? 0) + (floodCodes.get(202) ?? 0)).toBeLessThanOrEqual(2 * 100 + 5 * 100);
  }, 60_000);

  test('429 is problem+json with Retry-After; a refused request appends nothing; the bucket refills', async () => {
    const s = await startServerProcess({ env: { DSTP_RATE_LIMIT: '5/s' } });
    servers.push(s);
    const owner = party('rl-owner2');
    const subtree = await kvSubtree(s, owner, 'small');
    const p = party('rl-small');
    const answers: Answer[] = [];
    for (let n = 0; n < 14; n++) {
      answers.push(await post(s.url, '/v1/transactions', signedTx(p, { network: s.network, subtree, nonce: n, call: 'set', args: { key: 'k', value: n } }), '127.0.0.2'));
    }
    const firstRefused = answers.findIndex((a) => a.status === 429);
    // Burst 10 (twice the rate), plus what refilled while the first ones ran.
    expect(firstRefused).toBeGreaterThanOrEqual(10);
    const refused = answers[firstRefused]!;
    expect(refused.code).toBe('rate_limited');
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    // The refused nonce was not consumed: after the wait, the same transaction is accepted.
    const tx = signedTx(p, { network: s.network, subtree, nonce: firstRefused, call: 'set', args: { key: 'k', value: firstRefused } });
    await Bun.sleep(Number(refused.retryAfter) * 1000);
    expect((await post(s.url, '/v1/transactions', tx, '127.0.0.2')).status).toBe(202);
    // Another address was never limited, and reads are not limited at all.
    expect((await post(s.url, '/v1/transactions', signedTx(party('rl-other'), { network: s.network, subtree, nonce: 0, call: 'set', args: { key: 'o', value: 1 } }), '127.0.0.3')).status).toBe(202);
    for (let i = 0; i < 30; i++) expect((await call(s.url, 'GET', '/v1/info')).status).toBe(200);
  }, 30_000);

  test('DSTP_TRUST_PROXY: the proxy header names the client; without it the header is ignored', async () => {
    const s = await startServerProcess({ env: { DSTP_RATE_LIMIT: '1/s', DSTP_TRUST_PROXY: 'x-forwarded-for' } });
    const plain = await startServerProcess({ env: { DSTP_RATE_LIMIT: '1/s' } });
    servers.push(s, plain);
    const tick = (srv: TestServer, xff: string) => post(srv.url, '/v1/leader/tick', {}, '127.0.0.2', { headers: { ...adminHeader(), 'x-forwarded-for': xff } });
    // Behind the proxy: two clients, each with its own burst of 2 (the last entry is the proxy's own).
    expect((await tick(s, 'spoofed, 198.51.100.7')).status).toBe(200);
    expect((await tick(s, '198.51.100.7')).status).toBe(200);
    expect((await tick(s, '198.51.100.7')).status).toBe(429);
    expect((await tick(s, 'forged-by-client, 198.51.100.8')).status).toBe(200);
    // Not behind a proxy: the header changes nothing, the socket address counts.
    expect((await tick(plain, '198.51.100.7')).status).toBe(200);
    expect((await tick(plain, '198.51.100.8')).status).toBe(200);
    expect((await tick(plain, '198.51.100.9')).status).toBe(429);
  }, 30_000);

  test('a trusted forwarding peer names its clients and has a limit of its own; an untrusted one cannot', async () => {
    const s = await startServerProcess({ env: { DSTP_RATE_LIMIT: '1/s', DSTP_PEER_RATE_LIMIT: '2/s', DSTP_TRUSTED_PEERS: '127.0.0.4' } });
    servers.push(s);
    const tick = (from: string, client: string) => post(s.url, '/v1/leader/tick', {}, from, { headers: { ...adminHeader(), 'dstp-client-address': client } });
    // Through the peer, clients a and b each get their own burst of 2 …
    expect((await tick('127.0.0.4', 'a')).status).toBe(200);
    expect((await tick('127.0.0.4', 'a')).status).toBe(200);
    expect((await tick('127.0.0.4', 'a')).status).toBe(429);
    expect((await tick('127.0.0.4', 'b')).status).toBe(200);
    // … until the peer's own bucket (burst 4) is empty, whoever it names.
    expect((await tick('127.0.0.4', 'c')).status).toBe(429);
    // An address not listed cannot name other clients: its own bucket counts.
    expect((await tick('127.0.0.5', 'x')).status).toBe(200);
    expect((await tick('127.0.0.5', 'y')).status).toBe(200);
    expect((await tick('127.0.0.5', 'z')).status).toBe(429);
  }, 30_000);
});

describe('per (subtree, sender)', () => {
  test('a sender over its limit gets 429 rate_limited; a forged signature does not spend its allowance', async () => {
    const s = await startServer({ env: { DSTP_SENDER_RATE_LIMIT: '2/s' } });
    servers.push(s);
    const subtree = await kvSubtree(s, party('sr-owner'), 'senders');
    const victim = party('sr-victim');
    const mallory = party('sr-mallory');
    // Mallory sends many envelopes naming the victim as sender, signed with her own key.
    for (let n = 0; n < 10; n++) {
      const forged = signedTx(mallory, { network: s.network, subtree, nonce: 0, call: 'set', args: { key: 'x', value: n } });
      const res = await call(s.url, 'POST', '/v1/transactions', { json: { tx: { ...forged.tx, sender: victim.key }, sig: forged.sig } });
      expect(res.body.code).toBe('bad_signature');
    }
    const answers = [];
    for (let n = 0; n < 5; n++) {
      answers.push(await call(s.url, 'POST', '/v1/transactions', { json: signedTx(victim, { network: s.network, subtree, nonce: n, call: 'set', args: { key: 'v', value: n } }) }));
    }
    expect(answers.slice(0, 4).map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(answers[4]!.status).toBe(429);
    expect(answers[4]!.body.code).toBe('rate_limited');
    expect(answers[4]!.body.detail).toContain(victim.key);
    // Another sender in the same subtree has its own allowance.
    const other = await call(s.url, 'POST', '/v1/transactions', { json: signedTx(party('sr-other'), { network: s.network, subtree, nonce: 0, call: 'set', args: { key: 'w', value: 1 } }) });
    expect(other.status).toBe(202);
    const log = await s.ctx!.db.read.execute({ sql: 'SELECT count(*) FROM txs WHERE subtree = ?', args: [subtree] });
    expect(Number(log.rows[0]![0])).toBe(5);
  });

  test('pending limit: 429 too_many_pending names the limit, consumes no nonce, and lifts once a round executes', async () => {
    const s = await startServer({ env: { DSTP_MAX_PENDING_PER_SENDER: '3' } });
    servers.push(s);
    const subtree = await kvSubtree(s, party('pl-owner'), 'pending');
    const p = party('pl-sender');
    const tx = (n: number) => signedTx(p, { network: s.network, subtree, nonce: n, call: 'set', args: { key: `k${n}`, value: n } });
    for (let n = 0; n < 3; n++) expect((await call(s.url, 'POST', '/v1/transactions', { json: tx(n) })).status).toBe(202);
    const full = await call(s.url, 'POST', '/v1/transactions', { json: tx(3) });
    expect(full.status).toBe(429);
    expect(full.body.code).toBe('too_many_pending');
    expect(full.body.limit).toBe(3);
    // Another sender is not held back by this one.
    expect((await call(s.url, 'POST', '/v1/transactions', { json: signedTx(party('pl-other'), { network: s.network, subtree, nonce: 0, call: 'set', args: { key: 'o', value: 0 } }) })).status).toBe(202);
    expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
    // Nonce 3 was not consumed: it is accepted now, and so are the next two, up to the limit again.
    for (let n = 3; n < 6; n++) expect((await call(s.url, 'POST', '/v1/transactions', { json: tx(n) })).status).toBe(202);
    // In one batch, the limit counts the batch's own earlier items.
    expect((await call(s.url, 'POST', '/v1/leader/tick', { headers: adminHeader() })).status).toBe(200);
    const batch = await call(s.url, 'POST', '/v1/transactions/batch', { json: { txs: [tx(6), tx(7), tx(8), tx(9), tx(10)] } });
    expect(batch.body.items.map((i: { status: number }) => i.status)).toEqual([202, 202, 202, 429, 409]);
    expect(batch.body.items[3].problem.code).toBe('too_many_pending');
  });
});
