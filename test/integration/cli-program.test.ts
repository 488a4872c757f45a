/**
 * `dstp program push FILE` against a real node, and `dstp program test FILE` locally with the
 * node's engine (same executor, same gas), for an example program.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { programId } from '../../src/core/program-id.ts';
import { CURRENT_ENGINE } from '../../src/platform/sandbox/engines.ts';
import { ADMIN_TOKEN, startServer, type TestServer } from '../helpers/server.ts';

async function run(argv: string[], env: Record<string, string> = {}) {
  const out: unknown[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (v) => out.push(JSON.parse(JSON.stringify(v))), note: (l) => err.push(l), stdout: () => {}, stderr: (l) => err.push(l), env });
  return { code, out, err };
}

const COUNTER = join(import.meta.dirname, '..', '..', 'examples', 'programs', 'counter.js');
const dir = mkdtempSync(join(tmpdir(), 'dstp-cli-program-'));
let node: TestServer;
beforeAll(async () => {
  node = await startServer();
});
afterAll(async () => {
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dstp program', () => {
  test('push prints the id the node stored; the node serves the same source', async () => {
    const r = await run(['program', 'push', COUNTER, '--node', node.url], { DSTP_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const source = readFileSync(COUNTER, 'utf8');
    expect(r.out).toEqual([{ id: programId(CURRENT_ENGINE, source), engine: CURRENT_ENGINE }]);
    const g = (await (await fetch(`${node.url}/v1/programs/${programId(CURRENT_ENGINE, source)}`)).json()) as { source: string };
    expect(g.source).toBe(source);
    const denied = await run(['program', 'push', COUNTER, '--node', node.url]);
    expect(denied.code).toBe(1);
    expect(denied.err[0]).toContain('401 unauthorized');
  }, 60_000);

  test('test runs a call against a state file: writes and gas, or the failure code', async () => {
    const sender = 'ed25519:' + '11'.repeat(32);
    const state = join(dir, 'state.json');
    writeFileSync(state, JSON.stringify({ total: 4, [`count/${sender}`]: 2 }));
    const base = ['program', 'test', COUNTER, '--call', 'increment', '--state', state, '--config', '{"perSender":3,"maxStep":2}', '--sender', sender];
    const ok = await run([...base, '--args', '{"by":1}']);
    expect(ok.code).toBe(0);
    const o = ok.out[0] as { status: string; writes: unknown; gas: number; reads: string[] };
    expect(o.status).toBe('ok');
    expect(o.reads).toEqual(['total', `count/${sender}`]);
    expect(o.writes).toEqual([{ key: 'total', value: 5 }, { key: `count/${sender}`, value: 3 }]);
    expect(o.gas).toBeGreaterThan(0);
    const limited = await run([...base, '--args', '{"by":2}']);
    expect(limited.code).toBe(1);
    expect(limited.out[0]).toMatchObject({ status: 'failed', code: 'limit_reached' });
    const usage = await run(['program', 'test', COUNTER]);
    expect(usage.code).toBe(2);
    expect(usage.err[0]).toContain('--call is required');
  }, 60_000);

  test('create-subtree --program js:<id>: the program judges the config before anything is signed; the node runs it', async () => {
    const admin = { DSTP_ADMIN_TOKEN: ADMIN_TOKEN };
    const id = programId(CURRENT_ENGINE, readFileSync(COUNTER, 'utf8'));
    expect((await run(['program', 'push', COUNTER, '--node', node.url], admin)).code).toBe(0);
    const owner = join(dir, 'owner.json');
    expect((await run(['keygen', '--out', owner])).code).toBe(0);
    const create = (name: string, program: string, config?: string) =>
      run(['create-subtree', '--key', owner, '--name', name, '--program', program, ...(config ? ['--config', config] : []), '--node', node.url], admin);
    const listed = async () => ((await (await fetch(`${node.url}/v1/subtrees`)).json()) as { items: { name: string }[] }).items.map((i) => i.name);

    const made = await create('cli-counter', `js:${id}`, '{"perSender":3,"maxStep":2}');
    expect(made.err).toEqual([]);
    expect(made.code).toBe(0);
    const head = made.out[0] as { id: string; program: string };
    expect(head.program).toBe(`js:${id}`);
    expect((await fetch(`${node.url}/v1/subtrees/${head.id}`)).status).toBe(200);

    // The program's parseConfig refuses this config (perSender must be >= 1): refused locally, nothing sent.
    const refused = await create('cli-counter-bad', `js:${id}`, '{"perSender":0,"maxStep":2}');
    expect(refused.code).toBe(1);
    expect(refused.err.join('\n')).toContain('invalid_config');
    // An id the node does not have.
    const unknown = await create('cli-counter-unknown', `js:${'ab'.repeat(32)}`, '{}');
    expect(unknown.code).toBe(2);
    expect(unknown.err.join('\n')).toContain('dstp program push');
    expect(await listed()).not.toContain('cli-counter-bad');
    expect(await listed()).not.toContain('cli-counter-unknown');
  }, 60_000);
});
