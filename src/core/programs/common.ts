import { fail } from '../errors.ts';
import type { JsonValue } from '../jcs.ts';
import { exactObject, type PlainObject } from '../strict.ts';

/** Keys under `sys/` belong to the node (SPEC §7); neither genesis nor programs may write them. */
export const SYS_PREFIX = 'sys/';

export function isSysKey(key: string): boolean {
  return key.startsWith(SYS_PREFIX);
}

export function nonceKey(sender: string): string {
  return `${SYS_PREFIX}nonce/${sender}`;
}

export function refuseSysKeys(entries: readonly { key: string }[]): void {
  for (const { key } of entries) {
    if (isSysKey(key)) fail('invalid_genesis', `genesis key "${key}" is reserved for the node`, { key });
  }
}

/** Exact argument object for a call; maps the shared strict check onto `invalid_args`. */
export function callArgs(args: Record<string, JsonValue>, call: string, fields: readonly string[]): PlainObject {
  return exactObject(args, fields, 'invalid_args', `${call}.args`);
}
