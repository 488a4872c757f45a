/**
 * Byte arrays for the batch update's hot paths. Hashes are copied four bytes at a time through
 * DataViews (unaligned access is fine): a byte-at-a-time copy of 32 bytes measured 4-5× slower
 * under JSC. Comparisons stay byte loops: hashes differ in their first byte almost always.
 */

/**
 * A byte array over its own ArrayBuffer. JSC keeps a plain `new Uint8Array(n)` without one and
 * makes it (copying small arrays) the first time `.buffer` is read, which a DataView or word view
 * needs: profiles of small batches showed that at 7 % of the time.
 */
export function bytes(n: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(n));
}

/**
 * Below this many bytes a buffer gets no view and its hashes are copied a byte at a time: making
 * an ArrayBuffer and a DataView costs 0.5-4 µs under JSC (more under GC pressure), a byte copy of
 * a hash ~0.1 µs, so a view pays off only over many copies, i.e. for a large buffer.
 */
export const VIEW_MIN_BYTES = 4096;

/** A byte array that will get views (`bytes`) when large, a plain one otherwise. */
export function byteArray(n: number): Uint8Array<ArrayBuffer> {
  return n >= VIEW_MIN_BYTES ? bytes(n) : new Uint8Array(n);
}

export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const views = new WeakMap<Uint8Array, DataView>();

/**
 * `viewOf`, remembered per array: a store's node buffers outlive the batch that read them, and
 * every later batch copying hashes out of one would otherwise make its own view.
 */
export function sharedViewOf(b: Uint8Array): DataView {
  let v = views.get(b);
  if (v === undefined) {
    v = viewOf(b);
    views.set(b, v);
  }
  return v;
}

/** Copies the 32 bytes at `src[sOff]` to `dst[dOff]`, a byte at a time (no views needed). */
export function copy32Bytes(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number): void {
  for (let i = 0; i < 32; i++) dst[dOff + i] = src[sOff + i]!;
}

/** Copies the 32 bytes at `src[sOff]` to `dst[dOff]`. */
export function copy32(dst: DataView, dOff: number, src: DataView, sOff: number): void {
  for (let i = 0; i < 32; i += 4) dst.setInt32(dOff + i, src.getInt32(sOff + i));
}

/** Whether the 32 bytes at `buf[off]` are all zero (the empty hash). Hashes are uniform, so a byte loop exits at the first byte almost always. */
export function isZero32(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 32; i++) if (buf[off + i] !== 0) return false;
  return true;
}

/** Whether the 32 bytes at `a[ao]` and `b[bo]` are equal. Different hashes and paths differ in their first byte almost always. */
export function equal32(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 32; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
