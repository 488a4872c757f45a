#!/usr/bin/env node
// Launcher for `npx dstp …` / an installed `dstp` bin: runs the TypeScript CLI with Bun, which
// is a dependency of this package. Plain Node-compatible JavaScript on purpose (Node 20 cannot
// run .ts files by itself).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(packageRoot, 'src', 'cli', 'main.ts');

/** The Bun binary: the `bun` package this package depends on, wherever npm placed it. */
function findBun() {
  if (process.versions.bun) return process.execPath;
  try {
    const require = createRequire(join(packageRoot, 'package.json'));
    const pkgPath = require.resolve('bun/package.json');
    const bin = JSON.parse(readFileSync(pkgPath, 'utf8')).bin;
    const rel = typeof bin === 'string' ? bin : bin && bin.bun;
    if (rel && existsSync(join(dirname(pkgPath), rel))) return join(dirname(pkgPath), rel);
  } catch {
    // fall through to the local .bin link and then to PATH
  }
  const local = join(packageRoot, 'node_modules', '.bin', process.platform === 'win32' ? 'bun.exe' : 'bun');
  return existsSync(local) ? local : 'bun';
}

const result = spawnSync(findBun(), [main, ...process.argv.slice(2)], { stdio: 'inherit' });
if (result.error) {
  process.stderr.write(`dstp: cannot start bun (${result.error.message}); install it with \`npm install bun\`\n`);
  process.exit(1);
}
if (result.signal) process.kill(process.pid, result.signal);
process.exit(result.status ?? 1);
