import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/**
 * SHA-256 as a value, so a runtime can hand the core a native implementation (Bun.SHA256,
 * node:crypto) without the core importing anything runtime-specific. All must agree byte for byte.
 */
export type Hash32 = Uint8Array;
export type Sha256 = (data: Uint8Array) => Hash32;

export const sha256: Sha256 = (data) => nobleSha256(data);

export const EMPTY_HASH: Hash32 = new Uint8Array(32);
