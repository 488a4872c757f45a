import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/server.ts';

/**
 * The README's Quick start, as a new user runs it: a fresh clone of this repository (its committed
 * HEAD) in a temp folder, `npm install`, `npm start` on a free port, one request, then SIGTERM to
 * npm (what a supervisor sends) → exit 0. Needs the npm registry (or a warm npm cache). It prints
 * the times it took, the figures the README quotes.
 */
const dir = mkdtempSync(join(tmpdir(), 'dstp-quick-start-'));
const clone = join(dir, 'dstp');
// A fresh node_modules takes a while to delete.
afterAll(() => rmSync(dir, { recursive: true, force: true }), 120_000);

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir, NO_COLOR: '1' };

async function run(cmd: string[], cwd: string) {
  const t = performance.now();
  const p = Bun.spawn(cmd, { cwd, env, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code, ms: Math.round(performance.now() - t) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('README Quick start from a fresh clone', () => {
  test('git clone, npm install, npm start, a request, SIGTERM → exit 0', async () => {
    const cloned = await run(['git', 'clone', '--quiet', REPO_ROOT, clone], dir);
    expect({ code: cloned.code, stderr: cloned.stderr }).toEqual({ code: 0, stderr: '' });

    const install = await run([Bun.which('npm')!, 'install', '--no-audit', '--no-fund'], clone);
    expect({ code: install.code, err: install.code === 0 ? '' : install.stderr }).toEqual({ code: 0, err: '' });

    const port = await freePort();
    const t0 = performance.now();
    const npm = Bun.spawn([Bun.which('npm')!, 'start'], { cwd: clone, env: { ...env, PORT: String(port), DSTP_OTS_CALENDARS: 'none' }, stdout: 'pipe', stderr: 'pipe' });
    const output = Promise.all([new Response(npm.stdout).text(), new Response(npm.stderr).text()]);
    let info: { network?: string; publicKey?: string } | null = null;
    while (performance.now() - t0 < 60_000 && npm.exitCode === null) {
      const r = await fetch(`http://127.0.0.1:${port}/v1/info`).catch(() => null);
      if (r?.status === 200) {
        info = (await r.json()) as typeof info;
        break;
      }
      await Bun.sleep(20);
    }
    const coldStartMs = Math.round(performance.now() - t0);
    expect(info).toMatchObject({ network: 'dstp-local' });
    expect(info!.publicKey).toMatch(/^ed25519:[0-9a-f]{64}$/);

    npm.kill('SIGTERM');
    const code = await Promise.race([npm.exited, Bun.sleep(15_000).then(() => 'timeout' as const)]);
    const [out, err] = await output;
    expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
    expect(out).toContain(`listening on http://0.0.0.0:${port}`);
    console.log(`[quick-start] npm install ${install.ms} ms; npm start → first 200 from /v1/info ${coldStartMs} ms`);
  }, 600_000);
});
