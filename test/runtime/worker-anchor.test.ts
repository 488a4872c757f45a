/**
 * Anchoring on Cloudflare Workers (workerd via `wrangler dev`, database over libSQL HTTP): no
 * long-lived anchor loop exists there, so the cron handler builds the checkpoint, submits its log
 * root to the calendars and, on later invocations, upgrades the timestamp until a Bitcoin
 * attestation confirms it. The calendar is the local one on 127.0.0.1 that speaks the calendar API.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { startHranaServer, type HranaServer } from '../helpers/hrana-server.ts';
import { startLocalCalendar, type LocalCalendar } from '../helpers/ots-calendar.ts';
import { ADMIN_TOKEN, NETWORK, createTokenSubtree, http } from '../reliability/harness.ts';
import { launch, requireOrSkip, stopAll, type RuntimeNode } from './runtimes.ts';

const dirs: string[] = [];
let hrana: HranaServer | undefined;
let cal: LocalCalendar | undefined;
afterAll(async () => {
  await stopAll();
  await cal?.close();
  await hrana?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cron(node: RuntimeNode): Promise<void> {
  const res = await fetch(`${node.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
  expect(res.status).toBe(200);
  await res.text();
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

describe('anchoring on workerd', () => {
  test.skipIf(!requireOrSkip('workerd'))('the cron handler checkpoints, submits to the calendar, and confirms once mined', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dstp-anchor-workerd-'));
    dirs.push(dir);
    hrana = startHranaServer({ path: join(dir, 'node.db'), synchronous: 'NORMAL' });
    cal = startLocalCalendar();
    const node = await launch('workerd', {
      env: {
        DSTP_DATABASE_URL: hrana.url,
        DSTP_NETWORK: NETWORK,
        DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
        DSTP_NODE_KEY: toHex(crypto.getRandomValues(new Uint8Array(32))),
        DSTP_OTS_CALENDARS: cal.url,
        DSTP_OTS_UPGRADE_INTERVAL_MS: '20',
        DSTP_LOG: process.env.ANCHOR_DEBUG ? 'debug' : 'error',
      },
      timeoutMs: 90_000,
    });
    const nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
    await createTokenSubtree(node.url, { owner: generateKey('ed25519'), authority: nodeKey, name: 'anchored', balances: { [generateKey('ed25519').publicKey]: 5n } });

    // First invocation: a checkpoint of the new subtree, and its log root submitted.
    await cron(node);
    const cp = await until('a checkpoint', async () => {
      const r = await http(node.url, 'GET', '/v1/checkpoints/latest');
      return r.status === 200 ? r.body : undefined;
    });
    await until('the submission', async () => (cal!.counts.digest > 0 ? true : undefined)).catch((e) => {
      if (process.env.ANCHOR_DEBUG) console.log(node.output());
      throw e;
    });
    expect(cal.commitments()).toHaveLength(1);
    // The pending timestamp is saved after the calendar answered: poll for it.
    const status = await until('the pending .ots', async () => {
      const r = await fetch(`${node.url}/v1/checkpoints/${cp.checkpoint.seq}/ots`);
      await r.arrayBuffer();
      return r.status === 200 ? r.headers.get('x-anchor-status') : undefined;
    });
    expect(status).toBe('pending');

    // Mined; the next invocation asks for the upgrade and confirms.
    cal.mine(850_001);
    const confirmed = await until('the confirmation', async () => {
      await cron(node);
      const r = await fetch(`${node.url}/v1/checkpoints/${cp.checkpoint.seq}/ots`);
      const body = new Uint8Array(await r.arrayBuffer());
      return r.headers.get('x-anchor-status') === 'confirmed' ? body : undefined;
    });
    // A detached .ots file: the magic header, then the file hash op (sha256) and the log root.
    const magic = new TextEncoder().encode('\x00OpenTimestamps\x00\x00Proof\x00');
    expect(toHex(confirmed.slice(0, magic.length))).toBe(toHex(magic));
    expect(toHex(confirmed)).toContain(cp.logRoot);
  }, 120_000);
});
