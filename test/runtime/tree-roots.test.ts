/**
 * The core's tree gives the same roots and proofs on every runtime, on both of its read paths:
 * levels answered synchronously by the node's cache, and a getMany per level over any store.
 */
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, requireOrSkip } from './runtimes.ts';

const SCRIPT = join(import.meta.dirname, 'tree-roots-script.ts');
const BIN = join(REPO_ROOT, 'node_modules', '.bin');

async function run(cmd: string[]): Promise<string> {
  const p = Bun.spawn(cmd, { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NO_COLOR: '1' } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited ${code}: ${err}`);
  return out.trim();
}

/** Bun's output, the one the other runtimes are compared with (run once, whichever test asks first). */
let bunRun: Promise<string> | undefined;
const bunOutput = () => (bunRun ??= run([join(BIN, 'bun'), SCRIPT]));

describe('tree roots on every runtime', () => {
  test('bun: both batch paths agree', async () => {
    const bunOut = await bunOutput();
    const { roots, proofs } = JSON.parse(bunOut) as { roots: string[][]; proofs: unknown[] };
    expect(roots.length).toBe(5);
    for (const [cached, generic] of roots) expect(cached).toBe(generic!);
    expect(new Set(roots.map((r) => r[0])).size).toBe(5);
    for (let i = 0; i < proofs.length; i += 2) expect(proofs[i]).toEqual(proofs[i + 1]);
  }, 60_000);

  test('node (bundled) prints the same roots and proofs as bun', async () => {
    if (!requireOrSkip('node')) return;
    const dir = mkdtempSync(join(tmpdir(), 'dstp-tree-roots-'));
    try {
      const bundle = join(dir, 'tree-roots.mjs');
      await run([join(BIN, 'bun'), 'build', SCRIPT, '--target=node', `--outfile=${bundle}`]);
      expect(await run(['node', bundle])).toBe(await bunOutput());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('deno prints the same roots and proofs as bun', async () => {
    if (!requireOrSkip('deno')) return;
    expect(await run([join(BIN, 'deno'), 'run', '--allow-read', '--allow-env', '--node-modules-dir=manual', SCRIPT])).toBe(await bunOutput());
  }, 60_000);
});
