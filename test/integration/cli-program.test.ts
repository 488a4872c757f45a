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
});
