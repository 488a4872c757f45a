import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.ts';

/**
 * The SDK as a package: `npm run build` compiles it to JavaScript and declarations in dist/lib,
 * and a consumer imports `dstp/client` (package.json "exports") from the built output: plain Node
 * runs it against a real node, and tsc type-checks it against the built .d.ts.
 */
let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer({ scheduler: true, roundIntervalMs: 20 });
  dir = mkdtempSync(join(tmpdir(), 'dstp-sdk-pkg-'));
  // A consumer project with this package installed (as npm links a local dependency).
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'dstp'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}) {
  const p = Bun.spawn(cmd, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env }, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

const CONSUMER = `
import { DstpClient, buildSubtreeRequest, fetchVerifiedState, generateKey, signSubtreeRequest, type KeyPair } from 'dstp/client';

const client = new DstpClient({ baseUrl: process.env.NODE_URL!, adminToken: process.env.ADMIN_TOKEN! });
const info = await client.info();
const owner: KeyPair = generateKey();
const spec = buildSubtreeRequest({ network: info.network, owner: owner.publicKey, name: 'pkg', program: 'kv', config: { writers: 'any' }, mode: { type: 'poa', authority: info.publicKey } });
const head = await client.createSubtree(signSubtreeRequest(spec, [owner]));
const sent = await client.send({ subtree: head.id, key: owner, call: 'set', args: { key: 'x', value: 42 } });
const done = await client.waitForExecution(sent.id, { timeoutMs: 20_000 });
const { verified } = await fetchVerifiedState(client, head.id, 'kv/x', { expectedValue: 42 });
console.log(JSON.stringify({ status: done.status, value: verified.value, links: verified.links.map((l) => l.link) }));
`;

describe('dstp/client from the built package', () => {
  test('npm run build writes JavaScript and declarations', async () => {
    const r = await run([Bun.which('npm')!, 'run', '--silent', 'build'], REPO_ROOT);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    for (const f of ['index.js', 'index.d.ts', 'verify-chain.js', 'verify-chain.d.ts']) expect(existsSync(join(REPO_ROOT, 'dist', 'lib', 'client', f))).toBe(true);
  }, 120_000);

  test('tsc type-checks a consumer against the built declarations (and catches a misuse)', async () => {
    writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
    writeFileSync(join(dir, 'misuse.ts'), `import { signTransaction } from 'dstp/client';\nsignTransaction({ nonce: 'one' });\n`);
    const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
    const opts = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules', '@types'), '--skipLibCheck'];
    const ok = await run([tsc, ...opts, 'consumer.ts'], dir);
    expect({ code: ok.code, out: ok.stdout }).toEqual({ code: 0, out: '' });
    const bad = await run([tsc, ...opts, 'misuse.ts'], dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toContain('misuse.ts');
  }, 120_000);

  test('plain Node imports it and signs, submits and verifies against a real node', async () => {
    // The same program as JavaScript (the types stripped), run by Node, not Bun.
    const js = CONSUMER.replace(', type KeyPair', '').replace(': KeyPair', '').replaceAll('!', '');
    writeFileSync(join(dir, 'consumer.mjs'), js);
    const r = await run(['node', 'consumer.mjs'], dir, { NODE_URL: server.url, ADMIN_TOKEN: server.adminToken! });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ status: 'executed', value: 42, links: ['proof', 'round', 'signatures', 'subtree'] });
  }, 60_000);
});
