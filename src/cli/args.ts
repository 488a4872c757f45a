import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how the command was called: exit code 2 and a pointer to `--help`. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  node: { type: 'string' },
  'admin-token': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * Strict parsing: unknown options and stray positionals are usage errors, not silently ignored.
 * A command that takes one positional argument (`positional`) finds it under that name.
 */
export function parseOptions(argv: string[], options: Options, positional?: string): Values {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, strict: true, allowPositionals: true });
    if (positional !== undefined && positionals.length > 0) return { ...(values as Values), [positional]: positionals.shift() };
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    return values as Values;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // node:util's messages go on to explain `--`; the first sentence is the useful part.
    const text = e instanceof Error ? e.message : String(e);
    throw new UsageError(text.split(/\.\s/)[0]!);
  }
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function jsonOption(values: Values, name: string): unknown {
  const v = str(values, name);
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new UsageError(`--${name} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function intOption(values: Values, name: string, min = 0): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}`);
  }
  return Number(v);
}

/**
 * `--balances alice=10,bob=1`: account to amount. The account part may itself contain `:` (a
 * public key), so each entry is split at its last `=`.
 */
export function parseBalances(spec: string, option = '--balances'): [account: string, amount: string][] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const eq = entry.lastIndexOf('=');
      if (eq <= 0 || eq === entry.length - 1) throw new UsageError(`${option} entry "${entry}" must be <account>=<amount>`);
      return [entry.slice(0, eq), entry.slice(eq + 1)];
    });
}
