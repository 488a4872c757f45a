import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseKeyPair, type KeyPair } from '../client/keys.ts';
import { isPublicKeyString } from '../core/keys.ts';
import { UsageError } from './args.ts';

/**
 * Key files are the JSON `{ scheme, secret, publicKey }`. They hold a secret, so they are created
 * with mode 0600 and never overwritten by accident.
 */
export function writeKeyFile(path: string, key: KeyPair, opts: { force?: boolean } = {}): void {
  const data = `${JSON.stringify({ scheme: key.scheme, secret: key.secret, publicKey: key.publicKey }, null, 2)}\n`;
  try {
    writeFileSync(path, data, { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') throw new UsageError(`${path} exists; pass --force to overwrite it`);
    throw e;
  }
}

export function readKeyFile(path: string): KeyPair {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read key file ${path}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not a JSON key file`);
  }
  return parseKeyPair(json);
}

/** A public key given as `scheme:hex` or as the path of a key file. */
export function resolvePublicKey(ref: string, what: string): { publicKey: string; key?: KeyPair } {
  if (isPublicKeyString(ref)) return { publicKey: ref };
  if (existsSync(ref)) {
    const key = readKeyFile(ref);
    return { publicKey: key.publicKey, key };
  }
  throw new UsageError(`${what} "${ref}" is neither a public key (scheme:hex) nor a key file`);
}
