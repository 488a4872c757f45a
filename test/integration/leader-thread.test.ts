import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { generateKey } from '../../src/client/index.ts';
import { toHex } from '../../src/core/hex.ts';
import { cleanupAll, createTokenSubtree, http, openReader, spawnNode, tempDir, transfer, type NodeProc } from '../reliability/harness.ts';

/**
 * The node process as `npm start` runs it: with a spare core, leader passes, webhooks and
 * checkpoints run on their own thread (src/runtime/leader-thread.ts). Transactions execute, the
 * admin tick runs a pass on that thread, and SIGTERM lets the thread hand the lease back.
 */
afterAll(cleanupAll);

const startLine = (n: NodeProc) => JSON.parse(n.stderr().split('\n').find((l) => l.includes('"dstp listening"'))!) as Record<string, unknown>;

async function executes(node: NodeProc): Promise<void> {
  const nodeKey = (await http(node.url, 'GET', '/v1/info')).body.publicKey as string;
  const alice = generateKey('ed25519');
  const bob = generateKey('ed25519');
  const st = await createTokenSubtree(node.url, { owner: generateKey(), authority: nodeKey, name: 'thread', balances: { [alice.publicKey]: 10n, [bob.publicKey]: 1n } });
  const tx = transfer(st.id, alice, 0, bob.publicKey, '2');
  expect((await http(node.url, 'POST', '/v1/transactions', { json: tx.envelope })).status).toBe(202);
  const deadline = Date.now() + 10_000;
  let status = 'pending';
  while (status === 'pending' && Date.now() < deadline) {
    status = (await http(node.url, 'GET', `/v1/transactions/${tx.id}`)).body.status as string;
    if (status === 'pending') await Bun.sleep(20);
  }
  expect(status).toBe('executed');
  const state = await http(node.url, 'GET', `/v1/subtrees/${st.id}/state/${encodeURIComponent(`bal/${bob.publicKey}`)}`);
  expect(state.status).toBe(200);
}

describe('leader thread', () => {
  test.skipIf(navigator.hardwareConcurrency < 2)('on by default: rounds execute, the tick runs there, SIGTERM hands the lease back', async () => {
    const dbPath = join(tempDir(), 'thread.db');
    const node = await spawnNode({ dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), log: 'info', leaseTtlMs: 60_000 });
    expect(startLine(node).leader).toBe('thread');
    await executes(node);
    const tick = await http(node.url, 'POST', '/v1/leader/tick', { admin: true });
    expect(tick.status).toBe(200);
    expect(Array.isArray(tick.body.rounds)).toBe(true);
    const reader = await openReader(dbPath);
    try {
      const [lease] = await reader.all('SELECT holder, token, expires_at FROM lease WHERE name = ?', ['leader']);
      expect(Number(lease!.expires_at)).toBeGreaterThan(Date.now()); // held (60 s TTL)
      await node.stop();
      expect(await node.proc.exited).toBe(0);
      const [after] = await reader.all('SELECT holder, token, expires_at FROM lease WHERE name = ?', ['leader']);
      expect(after!.holder).toBe(lease!.holder);
      expect(Number(after!.expires_at)).toBe(0); // handed back, not left to expire
    } finally {
      reader.close();
    }
    expect(node.stderr()).not.toContain('"level":"error"');
  });

  test('DSTP_LEADER_THREAD=0 keeps the leader in the serving thread', async () => {
    const dbPath = join(tempDir(), 'inline.db');
    const node = await spawnNode({ dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), log: 'info', env: { DSTP_LEADER_THREAD: '0' } });
    expect(startLine(node).leader).toBe('in-process');
    await executes(node);
    await node.stop();
  });

  test('bad values are refused at start', async () => {
    const dbPath = join(tempDir(), 'bad.db');
    const err = await spawnNode({ dbPath, nodeKeyHex: toHex(crypto.getRandomValues(new Uint8Array(32))), env: { DSTP_LEADER_THREAD: 'sometimes' } }).then(
      () => null,
      (e: unknown) => String(e),
    );
    expect(err).toContain('DSTP_LEADER_THREAD');
  });
});
