import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildSubtreeRequest, generateKey, signSubtreeRequest, signTransaction, subtreeIdHex } from '../../src/client/index.ts';
import { adminHeader, call, startServer, type TestServer } from '../helpers/server.ts';

/** `unknown_call` says which calls the subtree takes: its program's and its mode's (docs/programs.md). */
let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.close();
});

async function create(program: 'kv' | 'token', mode: 'poa' | 'multisig') {
  const owner = generateKey();
  const signer = generateKey();
  const spec = buildSubtreeRequest({
    network: s.network,
    owner: owner.publicKey,
    name: `${program}-${mode}`,
    program,
    config: program === 'kv' ? { writers: 'any' } : { symbol: 'T', decimals: 0, minter: owner.publicKey },
    mode: mode === 'poa' ? { type: 'poa', authority: s.nodeKey } : { type: 'multisig', signers: [signer.publicKey], threshold: 1, proposalTimeoutMs: 5000 },
  });
  const r = await call(s.url, 'POST', '/v1/subtrees', { json: signSubtreeRequest(spec, mode === 'poa' ? [owner] : [owner, signer]), headers: adminHeader() });
  expect(r.status).toBe(201);
  return { id: subtreeIdHex(spec), owner };
}

describe('unknown_call lists the valid calls', () => {
  for (const [program, mode, calls] of [
    ['token', 'poa', ['transfer', 'mint', 'burn']],
    ['kv', 'poa', ['set', 'delete']],
    ['kv', 'multisig', ['set', 'delete', 'set_signers']],
  ] as const) {
    test(`${program} under ${mode}: ${calls.join(', ')}`, async () => {
      const { id, owner } = await create(program, mode);
      const tx = signTransaction({ network: s.network, subtree: id, key: owner, nonce: 0, call: 'steal', args: {} });
      const r = await call(s.url, 'POST', '/v1/transactions', { json: tx.envelope });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('unknown_call');
      expect(r.body.details).toEqual({ call: 'steal', calls: [...calls] });
      expect(r.body.detail).toContain(`this subtree takes: ${calls.join(', ')}`);
      expect((await call(s.url, 'GET', `/v1/transactions/${tx.id}`)).status).toBe(404); // nothing written
    });
  }
});
