/**
 * The launchers as a supervisor sees them: SIGTERM/SIGINT go to the pid it started (npm, or the
 * `dstp` launcher), never to a process group. The node behind it must drain (stop accepting,
 * finish the round and the group commit) and the launcher exit 0 with nothing left running. A
 * port in use is one line and a non-zero exit.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, signTransaction } from '../../src/client/index.ts';
import { fromHex } from '../../src/core/hex.ts';
import { openDatabase } from '../../src/store/db.ts';
import { getTx } from '../../src/store/tx-log.ts';
import { ADMIN_TOKEN, REPO_ROOT, subtreeRequest, type Party } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'dstp-procs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NPM = Bun.which('npm')!;

/** Every descendant of `pid` (from /proc), so the test can tell whether anything was left behind. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(pid);
  return out;
}

async function drain(stream: ReadableStream<Uint8Array>, onText: (s: string) => void): Promise<void> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (done) return;
    onText(dec.decode(value, { stream: true }));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Launched {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  output: () => string;
}

async function launch(cmd: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Launched> {
  const proc = Bun.spawn(cmd, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir, NO_COLOR: '1', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  for (const s of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[]) void drain(s, (t) => (out += t));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && proc.exitCode === null) {
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) return { proc, url: m[1]!, output: () => out };
    await Bun.sleep(20);
  }
  proc.kill('SIGKILL');
  throw new Error(`did not start:\n${out}`);
}

function nodeEnv(name: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DSTP_DATABASE_URL: `file:${join(dir, `${name}.db`)}`,
    DSTP_DATA_DIR: dir,
    DSTP_NODE_KEY: 'cd'.repeat(32),
    DSTP_ADMIN_TOKEN: ADMIN_TOKEN,
    DSTP_OTS_CALENDARS: 'none',
    DSTP_ROUND_INTERVAL_MS: '50',
    DSTP_LOG: 'info',
  };
}

/** Signals the launcher only; returns its exit code and what is still running of its tree. */
async function stopLauncher(l: Launched, signal: 'SIGTERM' | 'SIGINT') {
  const tree = descendants(l.proc.pid);
  expect(tree.length).toBeGreaterThan(0);
  l.proc.kill(signal);
  const code = await Promise.race([l.proc.exited, Bun.sleep(15_000).then(() => 'timeout' as const)]);
  await Bun.sleep(300);
  const left = tree.filter(alive);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  return { code, left };
}

const SCRIPTS = [
  ['start', 'SIGTERM'],
  ['start', 'SIGINT'],
  ['start:node', 'SIGTERM'],
  ['start:deno', 'SIGTERM'],
] as const;

describe('npm scripts stop on a signal to npm', () => {
  for (const [script, signal] of SCRIPTS) {
    test(`npm run ${script}, ${signal} to npm: the node drains, npm exits 0, nothing left`, async () => {
      const l = await launch([NPM, 'run', script], nodeEnv(`${script}-${signal}`));
      expect((await fetch(`${l.url}/v1/info`)).status).toBe(200);
      const { code, left } = await stopLauncher(l, signal);
      expect({ code, left }).toEqual({ code: 0, left: [] });
      expect(l.output()).toContain('"msg":"stopped"');
    }, 120_000);
  }

  test('npm start, SIGTERM in the middle of a stream of transactions: npm exits 0 and every 202 is in the log', async () => {
    const env = nodeEnv('drain');
    const l = await launch([NPM, 'start'], env);
    const info = (await (await fetch(`${l.url}/v1/info`)).json()) as { network: string; publicKey: string };
    const owner = generateKey();
    const ownerParty: Party = { scheme: 'ed25519', secret: fromHex(owner.secret, 32), key: owner.publicKey };
    const req = subtreeRequest({ network: info.network, owner: ownerParty, name: 'drain', program: 'kv', config: { writers: 'any' }, authority: info.publicKey });
    const created = await fetch(`${l.url}/v1/subtrees`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(req.body) });
    expect(created.status).toBe(201);
    const senders = Array.from({ length: 8 }, () => generateKey());
    const accepted: string[] = [];
    let stop = false;
    const streams = senders.map(async (key) => {
      for (let nonce = 0; !stop; nonce++) {
        const t = signTransaction({ network: info.network, subtree: req.id, key, nonce, call: 'set', args: { key: `${key.publicKey.slice(-8)}/${nonce}`, value: nonce } });
        const r = await fetch(`${l.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(t.envelope) }).catch(() => null);
        if (r === null) return; // the listener closed
        await r.arrayBuffer();
        if (r.status !== 202) return;
        accepted.push(t.id);
      }
    });
    await Bun.sleep(700);
    const { code, left } = await stopLauncher(l, 'SIGTERM');
    stop = true;
    await Promise.all(streams);
    expect({ code, left }).toEqual({ code: 0, left: [] });
    expect(accepted.length).toBeGreaterThan(10);
    const db = await openDatabase({ url: env.DSTP_DATABASE_URL! });
    try {
      const missing: string[] = [];
      for (const id of accepted) if ((await getTx(db, id)) === undefined) missing.push(id);
      expect(missing).toEqual([]);
    } finally {
      await db.close();
    }
  }, 120_000);

  test('a port in use: one line naming it, exit 1, no stack trace', async () => {
    const taken = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    try {
      for (const script of ['start', 'start:node', 'start:deno']) {
        const proc = Bun.spawn([NPM, 'run', '--silent', script], {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir, ...nodeEnv(`port-${script}`), PORT: String(taken.port), DSTP_LOG: 'error' },
          stdout: 'pipe',
          stderr: 'pipe',
        });
        const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        const lines = (out + err).split('\n').filter((s) => s.trim() !== '' && !s.startsWith('Bundled') && !/^\s*(\S+\.js\s+[\d.]+ [KM]B|node\.js)/.test(s));
        expect({ script, code, lines }).toEqual({ script, code: 1, lines: [`dstp: cannot listen on 127.0.0.1:${taken.port}: the port is in use (set PORT to a free port, or 0 for any)`] });
      }
    } finally {
      taken.stop(true);
    }
  }, 120_000);
});

describe('the dstp launcher stops its command on a signal', () => {
  test('dstp cosign (node bin/dstp.js, npx dstp), SIGTERM to the launcher: the co-signer stops and prints its summary, nothing left', async () => {
    const l = await launch([NPM, 'start'], nodeEnv('cosign'));
    try {
      const info = (await (await fetch(`${l.url}/v1/info`)).json()) as { network: string };
      const keys = { owner: generateKey(), signer: generateKey() };
      for (const [name, k] of Object.entries(keys)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(k), { mode: 0o600 });
      const create = Bun.spawnSync(['node', 'bin/dstp.js', 'create-subtree', '--node', l.url, '--key', join(dir, 'owner.json'), '--name', 'cosign-sig', '--program', 'kv', '--mode', 'multisig', '--signers', join(dir, 'signer.json'), '--threshold', '1'], { cwd: REPO_ROOT });
      expect(create.stderr.toString()).toBe('');
      const subtree = JSON.parse(create.stdout.toString()).id as string;
      expect(info.network).toBe('dstp-local');
      // `node bin/dstp.js` is the launcher itself; `npx dstp` puts npm and `sh -c` in front of it.
      for (const [launcher, expectedCode] of [
        [['node', 'bin/dstp.js'], 0],
        // npm forwards the signal to `sh -c`, which dies of it without passing it on (npm then
        // reports 143); the launcher sees its parent gone and stops the co-signer the same way.
        [[NPM, 'exec', '--offline', '--', 'dstp'], 143],
      ] as const) {
        const cosign = Bun.spawn([...launcher, 'cosign', '--node', l.url, '--key', join(dir, 'signer.json'), '--subtree', subtree, '--db', `file:${join(dir, `cosigner-${expectedCode}.db`)}`, '--interval', '50'], {
          cwd: REPO_ROOT,
          stdout: 'pipe',
          stderr: 'pipe',
        });
        const stdout = new Response(cosign.stdout).text();
        let events = '';
        void drain(cosign.stderr as ReadableStream<Uint8Array>, (t) => (events += t));
        // It opened its replica and follows the subtree: its first event.
        for (let i = 0; i < 400 && !events.includes('"type":"ready"'); i++) await Bun.sleep(50);
        expect(events).toContain('"type":"ready"');
        expect(cosign.exitCode).toBeNull();
        const tree = descendants(cosign.pid);
        expect(tree.length).toBeGreaterThan(0);
        cosign.kill('SIGTERM');
        const code = await Promise.race([cosign.exited, Bun.sleep(10_000).then(() => 'timeout' as const)]);
        // The co-signer finishes its step before it stops; on a loaded machine that can take seconds.
        for (let i = 0; i < 300 && tree.some(alive); i++) await Bun.sleep(50);
        const left = tree.filter(alive);
        for (const pid of left) process.kill(pid, 'SIGKILL');
        expect({ launcher: launcher.join(' '), code, left }).toEqual({ launcher: launcher.join(' '), code: expectedCode, left: [] });
        // The co-signer stopped between steps and printed its summary.
        expect(JSON.parse(await stdout)).toMatchObject({ subtree, signatures: 0, refusals: 0 });
      }
    } finally {
      await stopLauncher(l, 'SIGTERM');
    }
  }, 120_000);
});
