/**
 * The messages between crypto-pool.ts and its threads (crypto-worker.ts). Jobs travel packed in
 * one transferred buffer per batch, so a batch costs one message and no per-job objects.
 *
 * verify job, VERIFY_STRIDE bytes: scheme code, key length, key (≤ 33 bytes, zero-padded to 34),
 * digest (32), signature (64). sign job: the 32-byte digest.
 */
export const VERIFY_STRIDE = 132;
export const SIGN_STRIDE = 32;
export const SCHEME_CODES = ['ed25519', 'secp256k1', 'bip340'] as const;

export type PoolRequest =
  | { kind: 'init'; secret: Uint8Array | null }
  | { kind: 'verify' | 'sign'; id: number; data: Uint8Array; n: number };

export type PoolReply =
  | { kind: 'failed'; error: string }
  | { kind: 'done'; id: number; out: Uint8Array }
  | { kind: 'error'; id: number; error: string };
