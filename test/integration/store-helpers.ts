import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type OpenDatabaseOptions } from '../../src/store/db.ts';
import type { Database } from '../../src/store/database.ts';

/** A fresh directory for one test file's databases; remove it in afterAll. */
export function tempDir(prefix = 'dstp-store-'): { dir: string; url: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    dir,
    url: (name) => `file:${join(dir, name ?? `db-${n++}`, 'dstp.db')}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function openTemp(url: string, opts: Partial<OpenDatabaseOptions> = {}): Promise<Database> {
  return openDatabase({ url, ...opts });
}

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** Runs `code` (an ES module body) in a separate Bun process; resolves with its stdout. */
export async function runChild(code: string, env: Record<string, string> = {}): Promise<string> {
  const proc = Bun.spawn([process.execPath, '-e', code], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code_] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code_ !== 0) throw new Error(`child exited with ${code_}: ${err}`);
  return out;
}
