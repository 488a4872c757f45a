/**
 * Entry of a crypto pool thread (crypto-pool.ts): signature checks and the node's own signatures,
 * off the thread that serves HTTP and writes the log. It answers with the very verifier and signer
 * the main thread would use (createVerifier, createNodeSigner), so moving work here never changes
 * an answer.
 *
 * Messages in: `init` once, then `verify` / `sign` jobs packed as crypto-pool.ts describes.
 * Messages out: `failed` if init failed, else `{ id, out }` per job batch, or `{ id, error }`.
 */
import type { PublicKey, Scheme } from '../core/keys.ts';
import { createNodeSigner, type NodeSigner } from './node-signer.ts';
import { createVerifier } from './verifier.ts';
import { SCHEME_CODES, SIGN_STRIDE, VERIFY_STRIDE, type PoolReply, type PoolRequest } from './crypto-pool-wire.ts';

declare const self: { onmessage: ((e: MessageEvent<PoolRequest>) => void) | null; postMessage(msg: PoolReply, transfer?: Transferable[]): void };

let ready: Promise<{ verify: Awaited<ReturnType<typeof createVerifier>>; signer: NodeSigner | null }> | null = null;

self.onmessage = (e) => {
  const msg = e.data;
  if (msg.kind === 'init') {
    ready = (async () => ({
      verify: await createVerifier(),
      signer: msg.secret ? await createNodeSigner(msg.secret) : null,
    }))();
    // Only a failure is reported: jobs posted meanwhile wait for `ready`.
    ready.catch((err: unknown) => self.postMessage({ kind: 'failed', error: String(err) }));
    return;
  }
  void run(msg);
};

async function run(msg: Exclude<PoolRequest, { kind: 'init' }>): Promise<void> {
  try {
    if (!ready) throw new Error('crypto worker used before init');
    const { verify, signer } = await ready;
    const { data, n } = msg;
    if (msg.kind === 'verify') {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const o = i * VERIFY_STRIDE;
        const scheme = SCHEME_CODES[data[o]!]!;
        const key: PublicKey = { scheme: scheme as Scheme, bytes: data.subarray(o + 2, o + 2 + data[o + 1]!), id: '' };
        out[i] = (await verify.verify(key, data.subarray(o + 36, o + 68), data.subarray(o + 68, o + 132))) ? 1 : 0;
      }
      self.postMessage({ kind: 'done', id: msg.id, out }, [out.buffer]);
    } else {
      if (!signer) throw new Error('crypto worker has no signing key');
      const out = new Uint8Array(n * 64);
      for (let i = 0; i < n; i++) out.set(await signer.sign(data.subarray(i * SIGN_STRIDE, (i + 1) * SIGN_STRIDE)), i * 64);
      self.postMessage({ kind: 'done', id: msg.id, out }, [out.buffer]);
    }
  } catch (err) {
    self.postMessage({ kind: 'error', id: msg.id, error: String(err) });
  }
}
