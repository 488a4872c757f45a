/**
 * `npm run build:worker` (wrangler deploy --dry-run --outdir): the Workers bundle builds offline,
 * carries every migration inside it (workerd cannot read migrations/ from disk), and contains no
 * native libSQL driver (only the web client can run there).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/store/migrations.generated.ts';
import { REPO_ROOT, requireOrSkip } from './runtimes.ts';

const out = mkdtempSync(join(tmpdir(), 'dstp-worker-build-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('Workers bundle', () => {
  test.skipIf(!requireOrSkip('workerd'))('builds with wrangler --dry-run; migrations embedded; no native driver', async () => {
    const p = Bun.spawn([join(REPO_ROOT, 'node_modules', '.bin', 'wrangler'), 'deploy', '--dry-run', '--outdir', out], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect({ code, output: code === 0 ? '' : stdout + stderr }).toEqual({ code: 0, output: '' });
    const bundle = readFileSync(join(out, 'worker.js'), 'utf8');
    // (booleans, not toContain: a failure would print the 2 MB bundle)
    const missing = MIGRATIONS.filter((m) => !bundle.includes(m.hash) || !bundle.includes(m.tag)).map((m) => m.tag);
    expect(missing).toEqual([]);
    // The statements travel too, not only the bookkeeping.
    const creates = (s: string) => s.split('CREATE TABLE').length - 1;
    const wanted = MIGRATIONS.reduce((n, m) => n + m.statements.reduce((k, st) => k + creates(st), 0), 0);
    expect(creates(bundle)).toBeGreaterThanOrEqual(wanted);
    // The Node-API driver (libsql → @neon-rs/load → a .node file) must not be in a Workers bundle.
    expect(bundle.includes('@neon-rs/load')).toBe(false);
    expect(bundle.includes('databaseOpenWithSync')).toBe(false);
    expect(bundle.includes('v2/pipeline')).toBe(true); // the Hrana-over-HTTP client is
  }, 60_000);
});
