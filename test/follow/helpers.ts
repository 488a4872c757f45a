import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import canonicalize from 'canonicalize';
import { toHex } from '../../src/core/hex.ts';
import { http, spawnNode, tempDir, type NodeProc } from '../reliability/harness.ts';

/** Real node processes for follow tests: each its own libSQL file, 127.0.0.1, private origins allowed. */
export interface TestNode {
  proc: NodeProc;
  url: string;
  dbPath: string;
  keyHex: string;
  publicKey: string;
}

export async function startNode(name: string, env: Record<string, string> = {}, keep?: { dbPath: string; keyHex: string }): Promise<TestNode> {
  const dbPath = keep?.dbPath ?? join(tempDir(`dstp-follow-${name}-`), 'dstp.db');
  const keyHex = keep?.keyHex ?? toHex(crypto.getRandomValues(new Uint8Array(32)));
  const proc = await spawnNode({
    dbPath,
    nodeKeyHex: keyHex,
    leaseTtlMs: 2000,
    env: { DSTP_PEER_ALLOW_PRIVATE: 'true', DSTP_FOLLOW_INTERVAL_MS: '100', DSTP_PEER_TIMEOUT_MS: '2000', DSTP_CHECKPOINT_INTERVAL_MS: '200', ...env },
  });
  const info = await http(proc.url, 'GET', '/v1/info');
  return { proc, url: proc.url, dbPath, keyHex, publicKey: info.body.publicKey as string };
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await Bun.sleep(25);
  }
}

export async function follow(node: TestNode, origin: string, subtree: string, verify?: 'full' | 'headers') {
  return http(node.url, 'POST', '/v1/follows', { json: { origin, subtree, ...(verify ? { verify } : {}) }, admin: true });
}

/** Waits until `follower` serves `subtree` at `height` (or beyond) with status following. */
export async function caughtUp(follower: TestNode, subtree: string, height: number, timeoutMs = 15_000) {
  return until(`follow of ${subtree.slice(0, 8)} at ${height}`, async () => {
    const r = await http(follower.url, 'GET', `/v1/follows/${subtree}`);
    return r.status === 200 && r.body.height >= height && r.body.status === 'following' ? r.body : undefined;
  }, timeoutMs);
}

export async function headOf(node: TestNode, subtree: string) {
  return (await http(node.url, 'GET', `/v1/subtrees/${subtree}`)).body;
}

/** An independent SPEC §4 root over (key, value) pairs (the global tree of a checkpoint), from the definition. */
export function smtRoot(entries: { key: string; value: unknown }[]): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
  const leaves = entries.map((e) => ({ path: sha256(new TextEncoder().encode(e.key)), vh: sha256(new TextEncoder().encode(canonicalize(e.value)!)) }));
  const bit = (p: Uint8Array, i: number) => (p[i >> 3]! >> (7 - (i & 7))) & 1;
  const h = (set: typeof leaves, d: number): Uint8Array => {
    if (set.length === 0) return new Uint8Array(32);
    if (set.length === 1) return sha256(cat(Uint8Array.of(0), set[0]!.path, set[0]!.vh));
    return sha256(cat(Uint8Array.of(1), h(set.filter((l) => bit(l.path, d) === 0), d + 1), h(set.filter((l) => bit(l.path, d) === 1), d + 1)));
  };
  return hex(h(leaves, 0));
}
