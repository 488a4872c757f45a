/** Small SQL helpers shared by the repositories. */

/** Splits `items` into consecutive slices of at most `size`. */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

// Full chunks repeat all the time; odd sizes are rare. Bounded so odd sizes cannot pile up.
const listCache = new Map<string, string>();
const LIST_CACHE_MAX = 512;
function remember(key: string, s: string): string {
  if (listCache.size >= LIST_CACHE_MAX) listCache.clear();
  listCache.set(key, s);
  return s;
}

/** `?, ?, ?` for an `IN (…)` list of n values. */
export function params(n: number): string {
  const key = `p${n}`;
  let s = listCache.get(key);
  if (s === undefined) {
    s = remember(key, Array.from({ length: n }, () => '?').join(', '));
  }
  return s;
}

/** `(?, ?), (?, ?)` for n rows of `cols` values: multi-row VALUES. */
export function valueRows(n: number, cols: number): string {
  const key = `r${n}x${cols}`;
  let s = listCache.get(key);
  if (s === undefined) {
    const row = `(${params(cols)})`;
    s = remember(key, Array.from({ length: n }, () => row).join(', '));
  }
  return s;
}

/** Blob column value → bytes. Local libSQL returns an ArrayBuffer, remote clients too. */
export function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new TypeError(`expected a blob, got ${typeof v}`);
}

/** A Map key for a hash without hex encoding (one char per byte). */
export function hashKey(h: Uint8Array): string {
  return String.fromCharCode.apply(null, h as unknown as number[]);
}

/** A SQL integer column → JS number (intMode 'number' already gives numbers; remote may give bigint). */
export function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}
