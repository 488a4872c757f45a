import type { BlockSource } from '../core/smt/segment-memory.ts';

/**
 * Blocks of memory backed by transparent huge pages, for a large in-memory tree
 * (`new MemoryNodeStore({ blocks })`, src/core/smt/segment-memory.ts). A batch on a 1M-key tree
 * reads old nodes at random places in gigabytes of memory; with 4 KiB pages nearly each read also
 * misses the TLB, and each new page costs a fault. 2 MiB pages take part of both away (on the
 * machine the README's figures come from, random reads in 1 GiB 34-45 -> 27-34 ns, a first
 * write per 4 KiB 2.2-2.6 -> 1.0-1.8 µs).
 *
 * Linux under Bun only: it asks the kernel with madvise(MADV_HUGEPAGE) through bun:ffi, which
 * works whether the system's setting is `always` or `madvise`. Elsewhere, or with huge pages
 * switched off (`never`), or when libc cannot be loaded, it returns null and the store uses
 * ordinary memory. The hint changes where memory comes from, never what is in it.
 */
export async function hugePageBlocks(opts: { shared: boolean }): Promise<BlockSource | null> {
  const madvise = await loadMadvise();
  if (madvise === null) return null;
  return (byteLength: number) => {
    // A block starts on a huge page boundary: allocate one huge page more and skip to it (the
    // skipped part is never touched, so it takes address space, not memory).
    const raw = new Uint8Array(opts.shared ? new SharedArrayBuffer(byteLength + HUGE_PAGE) : new ArrayBuffer(byteLength + HUGE_PAGE));
    const address = madvise.address(raw);
    const skip = (HUGE_PAGE - (address % HUGE_PAGE)) % HUGE_PAGE;
    const whole = Math.floor(byteLength / HUGE_PAGE) * HUGE_PAGE;
    if (whole > 0) madvise.advise(address + skip, whole);
    return raw.subarray(skip, skip + byteLength);
  };
}

const HUGE_PAGE = 2 << 20;
/** From Linux's <asm-generic/mman-common.h>. */
const MADV_HUGEPAGE = 14;
const LIBC = ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1'];
/** The kernel's switch; `[never]` (brackets mark the current choice) means madvise would do nothing. */
const THP_SETTING = '/sys/kernel/mm/transparent_hugepage/enabled';

interface Madvise {
  address(view: Uint8Array): number;
  advise(address: number, length: number): void;
}

async function loadMadvise(): Promise<Madvise | null> {
  const g = globalThis as { Bun?: unknown; process?: { platform?: string } };
  if (g.Bun === undefined || g.process?.platform !== 'linux') return null;
  try {
    const { readFileSync } = await import('node:fs');
    if (readFileSync(THP_SETTING, 'utf8').includes('[never]')) return null;
    // A string the bundler for Workers cannot resolve is never imported there (Bun only).
    const ffi = await import(/* @vite-ignore */ 'bun:ffi' as string);
    for (const name of LIBC) {
      try {
        const lib = ffi.dlopen(name, { madvise: { args: [ffi.FFIType.u64, ffi.FFIType.u64, ffi.FFIType.i32], returns: ffi.FFIType.i32 } });
        const madvise = lib.symbols.madvise as (address: number, length: number, advice: number) => number;
        return {
          address: (view) => ffi.ptr(view) as number,
          advise: (address, length) => void madvise(address, length, MADV_HUGEPAGE),
        };
      } catch {
        // Not this libc; try the next.
      }
    }
  } catch {
    // No /sys setting to read or no bun:ffi: ordinary pages.
  }
  return null;
}
