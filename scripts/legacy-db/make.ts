/**
 * Regenerates the legacy database fixture from a given commit:
 *   bun scripts/legacy-db/make.ts <commit> [outDir = test/fixtures/legacy-db]
 * Extracts the commit's tree (git archive: the repository's worktrees are not touched) into a temp
 * folder, borrows this checkout's node_modules, and runs build.ts there, so the database is written
 * by that commit's code.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [commit, out = 'test/fixtures/legacy-db'] = process.argv.slice(2);
if (!commit) throw new Error('usage: bun scripts/legacy-db/make.ts <commit> [outDir]');
const repo = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'dstp-legacy-src-'));
try {
  const run = (cmd: string[], cwd: string) => {
    const r = Bun.spawnSync(cmd, { cwd, stdout: 'inherit', stderr: 'inherit' });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')} failed (${r.exitCode})`);
  };
  run(['sh', '-c', `git archive ${commit} | tar -x -C ${dir}`], repo);
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'scripts', 'legacy-db'), { recursive: true });
  copyFileSync(join(import.meta.dirname, 'build.ts'), join(dir, 'scripts', 'legacy-db', 'build.ts'));
  run([process.execPath, 'scripts/legacy-db/build.ts', resolve(repo, out)], dir);
  const rev = Bun.spawnSync(['git', 'rev-parse', commit], { cwd: repo }).stdout.toString().trim();
  await Bun.write(join(resolve(repo, out), 'COMMIT'), `${rev}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
