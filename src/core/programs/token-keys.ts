/**
 * Where the `token` program keeps its state (SPEC §7), apart from its code: clients that build
 * genesis entries or read balances need the key names, not the program.
 */
export const SUPPLY_KEY = 'supply';
export const BALANCE_PREFIX = 'balance/';

export function balanceKey(account: string): string {
  return BALANCE_PREFIX + account;
}
