import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startServerProcess, type TestServer } from '../helpers/server.ts';

/**
 * The seed example through the `dstp` command, as a user types it: separate processes
 * (`bun src/cli/main.ts …`, and `node bin/dstp.js` for the launcher) against the real node.
 */
let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServerProcess();
  dir = mkdtempSync(join(tmpdir(), 'dstp-cli-e2e-'));
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  json: any;
  stderr: string;
}

async function dstp(args: string[], opts: { launcher?: 'bun' | 'node'; env?: Record<string, string> } = {}): Promise<Run> {
  const cmd = opts.launcher === 'node' ? ['node', 'bin/dstp.js', ...args] : [join(REPO_ROOT, 'node_modules', '.bin', 'bun'), 'src/cli/main.ts', ...args];
  const proc = Bun.spawn(cmd, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: dir, DSTP_NODE_URL: server.url, ...opts.env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, json: stdout.trim() ? JSON.parse(stdout) : undefined, stderr };
}

const file = (name: string) => join(dir, name);
const pub = (name: string): string => JSON.parse(readFileSync(file(name), 'utf8')).publicKey;

describe('dstp CLI against the real node', () => {
  let subtree: string;

  test('keygen writes three key files', async () => {
    for (const [name, scheme] of [['owner.json', 'ed25519'], ['alice.json', 'bip340'], ['bob.json', 'secp256k1']] as const) {
      const r = await dstp(['keygen', '--scheme', scheme, '--out', file(name)]);
      expect(r.code).toBe(0);
      expect(r.json.publicKey).toBe(pub(name));
    }
  });

  test('create-subtree: token with Alice 10, Bob 1, the node as authority (admin token from the environment)', async () => {
    const args = ['create-subtree', '--key', file('owner.json'), '--name', 'cli-app', '--program', 'token', '--balances', `${file('alice.json')}=10,${file('bob.json')}=1`];
    const denied = await dstp(args);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('403 forbidden');
    const r = await dstp(args, { env: { DSTP_ADMIN_TOKEN: server.adminToken! } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json.height).toBe(0);
    expect(r.json.mode).toEqual({ type: 'poa', authority: server.nodeKey });
    expect(r.json.request).toBeUndefined();
    subtree = r.json.id;
  });

  test('send --wait: Alice sends Bob 2 and the acceptance is verified', async () => {
    const r = await dstp(['send', '--key', file('alice.json'), '--subtree', subtree, '--call', 'transfer', '--args', JSON.stringify({ to: pub('bob.json'), amount: '2' }), '--wait']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ status: 'executed', submitted: 'accepted', nonce: 0, acceptanceVerified: true, execution: { status: 'executed' } });
    expect(Object.keys(r.json).slice(0, 2)).toEqual(['id', 'status']);
  });

  test('get --verify and verify: Alice 8, Bob 3, every link checked', async () => {
    const a = await dstp(['get', '--subtree', subtree, '--key', `balance/${pub('alice.json')}`, '--verify']);
    expect(a.code).toBe(0);
    expect(a.json.value).toBe('8');
    expect(a.json.verified.links.map((l: { link: string }) => l.link)).toEqual(['proof', 'round', 'signatures', 'subtree']);

    const b = await dstp(['verify', '--subtree', subtree, '--key', `balance/${pub('bob.json')}`, '--expect', '"3"'], { launcher: 'node' });
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.json.ok).toBe(true);
    expect(b.json.value).toBe('3');
    expect(b.json.signers).toEqual([server.nodeKey]);
    expect(b.json.links.every((l: { ok: boolean }) => l.ok)).toBe(true);
  });

  test('verify exits 1 naming the failing link; history is readable by height', async () => {
    const r = await dstp(['verify', '--subtree', subtree, '--key', `balance/${pub('bob.json')}`, '--expect', '"4"']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('verification failed at link "proof"');
    expect(r.json.ok).toBe(false);
    expect(r.json.links.at(-1)).toMatchObject({ link: 'proof', ok: false, expected: '4', got: '3' });

    const past = await dstp(['get', '--subtree', subtree, '--key', `balance/${pub('bob.json')}`, '--height', '0', '--verify']);
    expect(past.json).toMatchObject({ value: '1', height: 0 });
  });

  test('a failed transfer: send --wait exits 1 with the failure code; tx shows the receipt', async () => {
    // "0" passes admission and fails in execution (invalid_amount).
    const r = await dstp(['send', '--key', file('bob.json'), '--subtree', subtree, '--call', 'transfer', '--args', JSON.stringify({ to: pub('alice.json'), amount: '0' }), '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid_amount');
    // The outcome leads the output, not the acceptance.
    expect(r.json).toMatchObject({ status: 'failed', code: 'invalid_amount', submitted: 'accepted' });
    expect(Object.keys(r.json).slice(0, 3)).toEqual(['id', 'status', 'code']);
    const t = await dstp(['tx', '--id', r.json.id]);
    expect(t.json).toMatchObject({ id: r.json.id, status: 'failed', receipt: { code: 'invalid_amount' } });
  });

  test('a transfer that cannot succeed is refused at the door: send exits 1 with the program code, nothing sent', async () => {
    const r = await dstp(['send', '--key', file('bob.json'), '--subtree', subtree, '--call', 'transfer', '--args', JSON.stringify({ to: pub('alice.json'), amount: '99' })]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('insufficient_balance');
  });

  test('send --nonce N uses N or fails with the node\'s expected nonce; nothing is sent under another', async () => {
    const args = ['send', '--key', file('alice.json'), '--subtree', subtree, '--call', 'transfer', '--args', JSON.stringify({ to: pub('bob.json'), amount: '1' })];
    const stale = await dstp([...args, '--nonce', '0']);
    expect(stale.code).toBe(1);
    expect(stale.stderr.trim()).toMatch(/^dstp send: 409 nonce_mismatch: .+ \(expected: 1\)$/);
    expect(stale.json).toBeUndefined();
    const exact = await dstp([...args, '--nonce', '1', '--wait']);
    expect(exact.code).toBe(0);
    expect(exact.json).toMatchObject({ status: 'executed', nonce: 1 });
  });

  test('server errors are one line with status and code', async () => {
    const r = await dstp(['get', '--subtree', 'ab'.repeat(32), '--key', 'supply']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^dstp get: 404 unknown_subtree: .+$/);
  });
});
