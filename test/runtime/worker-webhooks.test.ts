/**
 * Webhooks on Cloudflare Workers (workerd via `wrangler dev`, database over libSQL HTTP): there is
 * no long-lived worker, so the first attempts go out in the accept's `waitUntil` pass, the
 * retries that come due later are sent by the cron handler, and a retry on request runs its own
 * `waitUntil` pass. The receiver is a real one on 127.0.0.1 verifying with `standardwebhooks`.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { startHranaServer, type HranaServer } from '../helpers/hrana-server.ts';
import { startReceiver, type Receiver } from '../integration/webhooks-receiver.ts';
import { ADMIN_TOKEN, NETWORK, createTokenSubtree, http, transfer } from '../reliability/harness.ts';
import { launch, requireOrSkip, stopAll } from './runtimes.ts';

const dirs: string[] = [];
let hrana: HranaServer | undefined;
let rcv: Receiver | undefined;
afterAll(async () => {
  await stopAll();
  await rcv?.close();
  await hrana?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('webhooks on workerd', () => {
  test.skipIf(!requireOrSkip('workerd'))('first attempts in waitUntil, due retries by the cron, retry on request at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dstp-wh-workerd-'));
    dirs.push(dir);
    hrana = startHranaServer({ path: join(dir, 'node.db'), synchronous: 'NORMAL' });
    // Every webhook-id fails once (500), then is taken.
    rcv = await startReceiver({ behaviour: (_n, id) => ({ status: (rcv!.seen.get(id) ?? 0) > 1 ? 204 : 500 }) });
    const node = await launch('workerd', {
      env: {
        DSTP_DATABASE_URL: hrana.url,
        DSTP_NETWORK: NETWORK,
        DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
        DSTP_NODE_KEY: toHex(crypto.getRandomValues(new Uint8Array(32))),
        DSTP_OTS_CALENDARS: 'none',
        DSTP_LOG: 'error',
        DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
        // A retry is due 1-2 s after the failure: after the accept's pass has ended.
        DSTP_WEBHOOK_BACKOFF_MS: '2000',
        DSTP_WEBHOOK_BACKOFF_MAX_MS: '2000',
      },
      timeoutMs: 90_000,
    });
    try {
      const nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
      const w = await http(node.url, 'POST', '/v1/webhooks', { admin: true, json: { url: rcv.url, events: ['tx.executed', 'round.finalized'] } });
      expect(w.status).toBe(201);
      rcv.secrets = [w.body.secret];
      const sender = generateKey('ed25519');
      const st = await createTokenSubtree(node.url, { owner: generateKey('ed25519'), authority: nodeKey, name: 'wh', balances: { [sender.publicKey]: 10n } });
      const tx = transfer(st.id, sender, 0, generateKey('ed25519').publicKey, '1');
      expect((await http(node.url, 'POST', '/v1/transactions', { json: tx.envelope })).status).toBe(202);

      // The accept's waitUntil: leader pass, round, then a delivery pass — both first attempts fail.
      await rcv.until(() => rcv!.seen.size >= 2, 30_000, 'first attempts from the waitUntil pass');
      await Bun.sleep(2500); // both retries are due now, and nothing runs until a trigger
      expect(rcv.accepted).toHaveLength(0);
      const res = await fetch(`${node.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
      expect(res.status).toBe(200);
      await res.text();
      await rcv.until(() => rcv!.accepted.length >= 2, 30_000, 'the retries sent by the cron');
      expect(rcv.accepted.map((e) => e.type).sort()).toEqual(['round.finalized', 'tx.executed']);
      expect(rcv.accepted.find((e) => e.type === 'tx.executed')!.data.tx).toBe(tx.id);
      expect(rcv.verifyFailures).toEqual([]);
      for (const n of rcv.seen.values()) expect(n).toBe(2);

      // Retry on request: its own waitUntil pass sends it again (same id), no cron needed.
      // The cron's pass records the answers right after they arrive.
      let list = await http(node.url, 'GET', `/v1/webhooks/${w.body.id}/deliveries`, { admin: true });
      for (let i = 0; i < 100 && list.body.items.some((d: { status: string }) => d.status !== 'delivered'); i++) {
        await Bun.sleep(100);
        list = await http(node.url, 'GET', `/v1/webhooks/${w.body.id}/deliveries`, { admin: true });
      }
      expect(list.body.items.map((d: { status: string; attempts: number }) => [d.status, d.attempts])).toEqual([
        ['delivered', 2],
        ['delivered', 2],
      ]);
      const did = list.body.items[0].id as string;
      expect((await http(node.url, 'POST', `/v1/webhooks/${w.body.id}/deliveries/${did}/retry`, { admin: true })).status).toBe(202);
      await rcv.until(() => rcv!.duplicates === 1, 30_000, 'the redelivery');
      expect(rcv.seen.get(did)).toBe(3);
    } catch (err) {
      throw new Error(`${String(err)}\n--- workerd output ---\n${node.output()}`);
    } finally {
      await node.stop();
    }
  }, 180_000);
});
