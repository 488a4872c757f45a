import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type OpenDatabaseOptions } from '../../src/store/db.ts';
import type { Database } from '../../src/store/database.ts';
import { sha256 } from '../../src/core/hash.ts';
import { toHex, utf8 } from '../../src/core/hex.ts';
import { newRef, type NewNodes, type StoredNode } from '../../src/core/smt/node-store.ts';
import { asNewNodes } from '../helpers/memory-node-store.ts';
import { createSubtree, type CreateSubtreeResult } from '../../src/store/subtrees.ts';
import type { AcceptItem } from '../../src/store/tx-log.ts';

/** A fresh directory for one test file's databases; remove it in afterAll. */
export function tempDir(prefix = 'dstp-store-'): { dir: string; url: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    dir,
    url: (name) => `file:${join(dir, name ?? `db-${n++}`, 'dstp.db')}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function openTemp(url: string, opts: Partial<OpenDatabaseOptions> = {}): Promise<Database> {
  return openDatabase({ url, ...opts });
}

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** Runs `code` (an ES module body) in a separate Bun process; resolves with its stdout. */
export async function runChild(code: string, env: Record<string, string> = {}): Promise<string> {
  const proc = Bun.spawn([process.execPath, '-e', code], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code_] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code_ !== 0) throw new Error(`child exited with ${code_}: ${err}`);
  return out;
}

// ---- fixtures: realistic-looking rows; the store does not verify hashes or signatures ----

export const h = (s: string): string => toHex(sha256(utf8(s)));

export function fakeNode(label: string): StoredNode {
  const bytes = new Uint8Array(65);
  bytes.set(sha256(utf8(`l:${label}`)), 1);
  bytes.set(sha256(utf8(`r:${label}`)), 33);
  bytes[0] = 1;
  return { hash: sha256(bytes), bytes };
}

/** Fake nodes as one batch's output whose root is the first (so the store finds it by hash). */
export function fakeNodes(...labels: string[]): NewNodes {
  const nodes = labels.map(fakeNode);
  return { ...asNewNodes(nodes), root: nodes[0]!.hash, rootRef: newRef(0) };
}

export function fakeValue(json: string): { hash: Uint8Array; bytes: Uint8Array } {
  return { hash: sha256(utf8(json)), bytes: utf8(json) };
}

export async function makeSubtree(db: Database, name: string, createdAt = 1_700_000_000_000): Promise<CreateSubtreeResult> {
  const id = h(`subtree:${name}`);
  const root = h(`root:${name}:0`);
  return createSubtree(db, {
    row: {
      id,
      parent: '00'.repeat(32),
      owner: 'ed25519:' + 'aa'.repeat(32),
      name,
      program: 'kv',
      config: { writers: 'any' },
      mode: { type: 'poa', authority: 'ed25519:' + 'bb'.repeat(32) },
      request: { subtree: { name }, sig: 'cc'.repeat(64) },
      createdAt,
    },
    genesisRound: {
      hash: h(`round:${name}:0`),
      header: { v: 1, height: 0, stateRoot: root },
      signatures: [{ signer: 'ed25519:' + 'bb'.repeat(32), sig: 'dd'.repeat(64) }],
      stateRoot: root,
    },
    nodes: fakeNodes(`${name}:genesis`),
    values: [fakeValue(`"${name}"`)],
    events: [{ type: 'subtree.created', subtree: id, data: { id } }],
  });
}

export function txItem(subtree: string, sender: string, nonce: number, salt = ''): AcceptItem {
  const tx = { v: 1 as const, network: 'test', subtree, sender, nonce, call: 'set', args: { key: `k${nonce}${salt}`, value: 1 } };
  return { id: h(JSON.stringify(tx)), subtree, sender, nonce, envelope: { tx, sig: 'ee'.repeat(64) } };
}

export const sender = (i: number): string => `ed25519:${h(`sender:${i}`)}`;
