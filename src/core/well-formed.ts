const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `s` holds no lone UTF-16 surrogate, i.e. UTF-8 encoding keeps it intact.
 * String.prototype.isWellFormed where the runtime has it (ES2024, native), else the same test by regex.
 */
export function wellFormed(s: string): boolean {
  const native = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(s) : !LONE_SURROGATE.test(s);
}
