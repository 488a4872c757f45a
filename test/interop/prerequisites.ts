import { existsSync } from 'node:fs';

/**
 * test:interop cross-checks the node against programs we did not write, installed from Debian.
 * A missing one is a failure that says how to install it, never a skip.
 */
export class MissingPrerequisite extends Error {
  constructor(what: string, install: string) {
    super(`${what} is not installed; install it with: ${install} (or run .ci/run, which installs everything test:interop needs)`);
  }
}

export const PYTHON = '/usr/bin/python3';
export const CHROMIUM = '/usr/bin/chromium';

/** Debian's python3-opentimestamps, the reference OpenTimestamps implementation. */
export function requirePythonOpentimestamps(): void {
  const apt = 'apt-get install -y python3-opentimestamps';
  if (!existsSync(PYTHON)) throw new MissingPrerequisite(PYTHON, apt);
  const r = Bun.spawnSync([PYTHON, '-c', 'import opentimestamps.core.timestamp']);
  if (r.exitCode !== 0) throw new MissingPrerequisite('the Python module opentimestamps (python3-opentimestamps)', apt);
}

/** Debian's chromium, driven headless by playwright-core. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new MissingPrerequisite(CHROMIUM, 'apt-get install -y chromium');
}
