import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { ADMIN_TOKEN, cleanupAll, createTokenSubtree, http, spawnNode, tempDir, type NodeProc } from '../reliability/harness.ts';
import { startReceiver, type Receiver } from './webhooks-receiver.ts';

/**
 * Secrets over a real node process (`bun src/runtime/bun.ts`, libSQL file, log level debug):
 * a rotation's grace period, seen by a receiver that still holds only the old secret (it verifies
 * pings AND event deliveries until the grace ends, and nothing after), and no secret in any log
 * line or management answer after create, rotate, ping, failing sends and retries.
 */
const receivers: Receiver[] = [];
const nodes: NodeProc[] = [];
afterAll(async () => {
  await Promise.all([...receivers.map((r) => r.close()), ...nodes.map((n) => n.stop())]);
  await cleanupAll();
});

const GRACE_MS = 2500;

describe('webhook secrets', () => {
  test('rotation: the old secret verifies pings and deliveries during the grace period and not after; secrets never logged', async () => {
    const rcv = await startReceiver();
    receivers.push(rcv);
    const dir = tempDir('dstp-wh-secret-');
    const node = await spawnNode({
      dbPath: join(dir, 'node.db'),
      nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))),
      log: 'debug',
      env: {
        DSTP_WEBHOOK_ALLOW_PRIVATE: '1',
        DSTP_WEBHOOK_INTERVAL_MS: '20',
        DSTP_WEBHOOK_BACKOFF_MS: '20',
        DSTP_WEBHOOK_BACKOFF_MAX_MS: '100',
        DSTP_WEBHOOK_MAX_ATTEMPTS: '100',
      },
    });
    nodes.push(node);
    const nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
    const created = await http(node.url, 'POST', '/v1/webhooks', { admin: true, json: { url: rcv.url, events: ['subtree.created'] } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const oldSecret = created.body.secret as string;
    rcv.secrets = [oldSecret];
    const ping = async () => (await http(node.url, 'POST', `/v1/webhooks/${id}/test`, { admin: true })).body;
    const newSubtree = (name: string) => createTokenSubtree(node.url, { owner: generateKey('ed25519'), authority: nodeKey, name, balances: {} });

    // Rotation with a short grace period; the receiver has not switched yet.
    const rot = await http(node.url, 'POST', `/v1/webhooks/${id}/rotate-secret`, { admin: true, json: { graceMs: GRACE_MS } });
    expect(rot.status).toBe(200);
    const newSecret = rot.body.secret as string;
    const graceEnds = rot.body.previousSecretExpiresAt as number;
    expect(newSecret).not.toBe(oldSecret);
    expect(await ping()).toMatchObject({ ok: true, status: 204 });
    const during = await newSubtree('during-grace');
    await rcv.until(() => rcv.accepted.some((e) => e.data.subtree === during.id), 5000, 'the event sent during the grace period');
    expect(Date.now()).toBeLessThan(graceEnds); // the assertions above really ran inside the grace period
    expect(rcv.verifyFailures).toEqual([]);

    // After the grace period only the new secret signs: the old-secret receiver refuses everything.
    await Bun.sleep(Math.max(0, graceEnds - Date.now()) + 100);
    const stale = await ping();
    expect(stale).toMatchObject({ ok: false, status: 400 });
    const after = await newSubtree('after-grace');
    await rcv.until(() => rcv.verifyFailures.length >= 3, 5000, 'refused retries of the event after the grace period');
    expect(rcv.accepted.some((e) => e.data.subtree === after.id)).toBe(false);
    for (const f of rcv.verifyFailures) expect(f.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    // The receiver switches: the same delivery (same webhook-id) now verifies.
    rcv.secrets = [newSecret];
    await rcv.until(() => rcv.accepted.some((e) => e.data.subtree === after.id), 5000, 'the event after switching secrets');
    expect(await ping()).toMatchObject({ ok: true, status: 204 });

    // A retry on request and every management read: no secret in any answer.
    const list = await http(node.url, 'GET', `/v1/webhooks/${id}/deliveries`, { admin: true });
    const did = list.body.items[0].id as string;
    const answers = [
      list,
      await http(node.url, 'POST', `/v1/webhooks/${id}/deliveries/${did}/retry`, { admin: true }),
      await http(node.url, 'GET', `/v1/webhooks/${id}`, { admin: true }),
      await http(node.url, 'GET', '/v1/webhooks', { admin: true }),
      await http(node.url, 'GET', `/v1/webhooks/${id}/deliveries/${did}`, { admin: true }),
      await http(node.url, 'GET', `/v1/webhooks/${id}/log`, { admin: true }),
    ];
    for (const a of answers) expect(a.status).toBeLessThan(300);
    const secrets = [oldSecret, newSecret].map((x) => x.slice('whsec_'.length));
    for (const a of answers) for (const raw of secrets) expect(JSON.stringify(a.body)).not.toContain(raw);

    // The node's whole log (debug level, failed attempts included): no secret, no admin token.
    await node.stop();
    const log = node.stderr();
    expect(log).toContain('webhook secret rotated');
    expect(log).toContain('webhook attempt failed');
    for (const raw of secrets) expect(log).not.toContain(raw);
    expect(log).not.toContain('whsec_');
    expect(log).not.toContain(ADMIN_TOKEN);
  }, 30_000);
});
