#!/usr/bin/env node
// Launcher for `npx dstp …` / an installed `dstp` bin: runs the TypeScript CLI with Bun, which
// is a dependency of this package. Plain Node-compatible JavaScript on purpose (Node 20 cannot
// run .ts files by itself).
import { spawn } from 'node:child_process';
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

// Asynchronous, so this launcher stays responsive: a supervisor's SIGTERM (or Ctrl-C's SIGINT) to
// it is passed on to Bun, which stops the command cleanly (`dstp cosign` finishes its step and
// prints its summary); the launcher then exits with Bun's status.
const child = spawn(findBun(), [main, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('error', (err) => {
  process.stderr.write(`dstp: cannot start bun (${err.message}); install it with \`npm install bun\`\n`);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}
// `npx dstp` runs this launcher under `sh -c`, which dies of the signal npm forwards to it
// without passing it on: a launcher whose parent went away stops Bun the same way.
const parent = process.ppid;
const orphanCheck = setInterval(() => {
  if (process.ppid !== parent && child.exitCode === null && child.signalCode === null) {
    clearInterval(orphanCheck);
    child.kill('SIGTERM');
  }
}, 200);
orphanCheck.unref();
child.on('exit', (code, signal) => {
  clearInterval(orphanCheck);
  if (signal) {
    // Die of the same signal, as a shell would report it; our handlers must not catch it.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(sig);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
