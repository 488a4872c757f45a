import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The node's ed25519 identity. Without DSTP_NODE_KEY a key is generated once and kept beside the
 * database with 0600 permissions; `wx` makes two processes starting at once agree on one key.
 */
export function loadOrCreateNodeKey(dataDir: string, configured?: string): Uint8Array {
  if (configured) return hexToBytes(configured);
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'node.key');
  try {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    writeFileSync(file, bytesToHex(secret) + '\n', { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600); // never leave a secret readable by others
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file} does not hold a 32-byte hex ed25519 secret key`);
  return hexToBytes(text);
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
}
function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
