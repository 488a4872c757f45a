/**
 * The package scripts themselves, run through npm as a user would: `npm start`, `npm run
 * start:node`, `npm run start:deno` and `npm run dev:worker` each bring up a node that answers
 * GET /v1/info with 200 and stops on SIGTERM; `npm run build:worker` writes the Workers bundle.
 * (The runtime matrix runs the commands these scripts run; this catches a script that drifted.)
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publicKeyFromSecret } from '../../src/core/keys.ts';
import { fromHex } from '../../src/core/hex.ts';
import { startHranaServer, type HranaServer } from '../helpers/hrana-server.ts';
import { launch, NPM_SCRIPT, REPO_ROOT, requireOrSkip, RUNTIMES, stopAll } from './runtimes.ts';

const dir = mkdtempSync(join(tmpdir(), 'dstp-scripts-'));
const hranas: HranaServer[] = [];
const NODE_KEY = 'ab'.repeat(32);
const NETWORK = 'dstp-scripts';
const hasNpm = Bun.which('npm') !== null;
const DB_TOKEN = 'scripts-db-token-0123456789';

afterAll(async () => {
  await stopAll();
  for (const h of hranas) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('package scripts', () => {
  for (const runtime of RUNTIMES) {
    test.skipIf(!hasNpm || !requireOrSkip(runtime))(`npm run ${NPM_SCRIPT[runtime]}: /v1/info answers 200, SIGTERM stops it`, async () => {
      const env: Record<string, string> = { DSTP_NETWORK: NETWORK, DSTP_NODE_KEY: NODE_KEY, DSTP_LOG: 'error' };
      if (runtime === 'workerd') {
        // Workers: remote libSQL only, with its auth token (the server refuses requests without it).
        const h = startHranaServer({ path: join(dir, 'worker.db'), synchronous: 'NORMAL', authToken: DB_TOKEN });
        hranas.push(h);
        env.DSTP_DATABASE_URL = h.url;
        env.DSTP_DATABASE_AUTH_TOKEN = DB_TOKEN;
      } else {
        env.DSTP_DATABASE_URL = `file:${join(dir, `${runtime}.db`)}`;
        env.DSTP_DATA_DIR = dir;
      }
      const node = await launch(runtime, { env, viaNpm: true, timeoutMs: runtime === 'workerd' ? 90_000 : 45_000 });
      const res = await fetch(`${node.url}/v1/info`);
      const info = (await res.json()) as { network: string; publicKey: string };
      expect([res.status, info.network, info.publicKey]).toEqual([200, NETWORK, publicKeyFromSecret('ed25519', fromHex(NODE_KEY, 32))]);
      if (runtime === 'workerd') {
        // A state read reaches the database: through the token-checking server.
        const miss = await fetch(`${node.url}/v1/subtrees/${'ab'.repeat(32)}`);
        await miss.arrayBuffer();
        expect(miss.status).toBe(404);
        expect(hranas.at(-1)!.stats.statements).toBeGreaterThan(0);
      }
      const t = performance.now();
      await node.stop(10_000);
      expect(node.alive()).toBe(false);
      console.log(`[scripts] npm run ${NPM_SCRIPT[runtime]}: first 200 after ${Math.round(node.coldStartMs)} ms, stopped in ${Math.round(performance.now() - t)} ms`);
    }, 120_000);
  }

  test.skipIf(!hasNpm)('npm start on remote libSQL: the auth token is sent; a wrong one stops the start with the server\'s 401', async () => {
    const h = startHranaServer({ path: join(dir, 'remote.db'), authToken: DB_TOKEN });
    hranas.push(h);
    const env = { DSTP_NETWORK: NETWORK, DSTP_NODE_KEY: NODE_KEY, DSTP_LOG: 'error', DSTP_DATABASE_URL: h.url };
    const wrong = await launch('bun', { env: { ...env, DSTP_DATABASE_AUTH_TOKEN: 'not-the-token' }, viaNpm: true, timeoutMs: 20_000 }).then(
      () => 'started',
      (err: unknown) => String(err),
    );
    expect(wrong).toContain('401');
    expect(h.stats.statements).toBe(0);
    const node = await launch('bun', { env: { ...env, DSTP_DATABASE_AUTH_TOKEN: DB_TOKEN }, viaNpm: true, timeoutMs: 45_000 });
    expect((await fetch(`${node.url}/v1/info`)).status).toBe(200);
    expect(h.stats.statements).toBeGreaterThan(0); // migrations ran through the server
    await node.stop(10_000);
  }, 90_000);

  test.skipIf(!hasNpm || !requireOrSkip('workerd'))('npm run build:worker writes dist/worker/worker.js', async () => {
    const started = Date.now();
    const p = Bun.spawn([Bun.which('npm')!, 'run', '--silent', 'build:worker'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect({ code, output: code === 0 ? '' : out + err }).toEqual({ code: 0, output: '' });
    const bundle = join(REPO_ROOT, 'dist', 'worker', 'worker.js');
    expect(existsSync(bundle)).toBe(true);
    expect(statSync(bundle).mtimeMs).toBeGreaterThanOrEqual(started - 1000);
  }, 60_000);
});
