import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.ts';

/**
 * `dstp create-subtree --mode multisig|pos` as a user types it (separate `node bin/dstp.js`
 * processes) against a real node: the node accepts the signed request and reports the mode.
 */
let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'dstp-cli-modes-'));
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function dstp(args: string[], env: Record<string, string> = {}): Promise<{ code: number; json: any; stderr: string }> {
  const proc = Bun.spawn(['node', 'bin/dstp.js', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: dir, DSTP_NODE_URL: server.url, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, json: stdout.trim() ? JSON.parse(stdout) : undefined, stderr };
}

const file = (name: string) => join(dir, `${name}.json`);
const pub = (name: string): string => JSON.parse(readFileSync(file(name), 'utf8')).publicKey;

describe('dstp create-subtree --mode', () => {
  test('key files', async () => {
    for (const name of ['owner', 's1', 's2', 's3']) expect((await dstp(['keygen', '--out', file(name)])).code).toBe(0);
  }, 60_000);

  test('multisig: 2 of 3 signers from key files, which also sign the request', async () => {
    const r = await dstp(['create-subtree', '--key', file('owner'), '--name', 'ms', '--program', 'kv', '--mode', 'multisig', '--signers', `${file('s1')},${file('s2')},${file('s3')}`, '--threshold', '2', '--proposal-timeout-ms', '5000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const head = await (await fetch(`${server.url}/v1/subtrees/${r.json.id}`)).json();
    expect(head.request.subtree.mode).toEqual({ type: 'multisig', signers: [pub('s1'), pub('s2'), pub('s3')], threshold: 2, proposalTimeoutMs: 5000 });
  }, 60_000);

  test('multisig with the node as one signer (public keys for the others): the node signs with the admin token', async () => {
    const args = ['create-subtree', '--key', file('owner'), '--name', 'ms-node', '--program', 'kv', '--mode', 'multisig', '--signers', `node,${file('s1')},${file('s2')}`, '--threshold', '3'];
    const r = await dstp(args, { DSTP_ADMIN_TOKEN: server.adminToken! });
    expect(r.code).toBe(0);
    const head = await (await fetch(`${server.url}/v1/subtrees/${r.json.id}`)).json();
    expect(head.request.subtree.mode).toEqual({ type: 'multisig', signers: [server.nodeKey, pub('s1'), pub('s2')], threshold: 3, proposalTimeoutMs: 30000 });
  }, 60_000);

  test('a threshold above the signer count is refused before sending: one line, exit 1', async () => {
    const r = await dstp(['create-subtree', '--key', file('owner'), '--name', 'ms-bad', '--program', 'kv', '--mode', 'multisig', '--signers', `${file('s1')},${file('s2')},${file('s3')}`, '--threshold', '4']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid_mode');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  test('pos: validators with stake; epoch length', async () => {
    const r = await dstp(['create-subtree', '--key', file('owner'), '--name', 'pos', '--program', 'token', '--mode', 'pos', '--validators', `${file('s1')}=100,${file('s2')}=50,${pub('s3')}=10`, '--epoch-rounds', '10']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const head = await (await fetch(`${server.url}/v1/subtrees/${r.json.id}`)).json();
    expect(head.request.subtree.mode).toEqual({
      type: 'pos',
      validators: [
        { key: pub('s1'), stake: '100' },
        { key: pub('s2'), stake: '50' },
        { key: pub('s3'), stake: '10' },
      ],
      epochRounds: 10,
    });
  }, 60_000);

  test('usage errors (exit 2): options of another mode, missing threshold, unknown mode', async () => {
    const base = ['create-subtree', '--key', file('owner'), '--name', 'u', '--program', 'kv', '--network', 'n', '--dry-run'];
    for (const [extra, msg] of [
      [['--threshold', '2'], '--threshold does not apply to --mode poa'],
      [['--mode', 'multisig', '--signers', file('s1')], '--mode multisig needs --threshold N'],
      [['--mode', 'pos'], '--mode pos needs --validators'],
      [['--mode', 'pos', '--validators', `${file('s1')}`], '--validators entry'],
      [['--mode', 'raft'], '--mode must be poa, multisig or pos'],
    ] as const) {
      const r = await dstp([...base, ...extra]);
      expect({ code: r.code, msg: r.stderr.includes(msg) }).toEqual({ code: 2, msg: true });
    }
  }, 60_000);
});
