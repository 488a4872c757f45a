import { expect, test } from 'bun:test';
import { join } from 'node:path';

/**
 * The SDK must run in a browser: bundling it for the browser target must succeed without any
 * Node or Bun built-in, and the bundle must work when loaded as plain JavaScript.
 */
test('src/client bundles for the browser without runtime built-ins, and the bundle signs and verifies', async () => {
  const result = await Bun.build({ entrypoints: [join(import.meta.dirname, '../../src/client/index.ts')], target: 'browser', format: 'esm' });
  expect(result.success).toBe(true);
  const code = await result.outputs[0]!.text();
  expect(code).not.toMatch(/from\s*["'](node:|bun:|fs|path|crypto)["']/);
  expect(code).not.toContain('Bun.');
  // Load the bundle itself (not the sources) and use it.
  const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  const sdk = await import(url);
  const key = sdk.generateKey('ed25519');
  const { envelope } = sdk.signTransaction({ network: 'n', subtree: 'ab'.repeat(32), key, nonce: 0, call: 'burn', args: { amount: '1' } });
  const { parseTxEnvelope, verifyTxSignature } = await import('../../src/core/tx.ts');
  expect(verifyTxSignature(parseTxEnvelope(envelope))).toBe(true);
});
