import { MAX_BODY_BYTES } from '../core/limits.ts';

/** SPEC §6: one transaction body ≤ 64 KiB; every other JSON body shares that bound. */
export const BODY_BYTES = MAX_BODY_BYTES;
/** A batch holds up to 1000 transactions; its body may be up to 4 MiB. */
export const BATCH_BODY_BYTES = 4 * 1024 * 1024;
/** A program's source is ≤ 64 KiB of UTF-8 (SPEC §7.1); JSON escaping may grow it up to six times (\\uXXXX). */
export const PROGRAM_BODY_BYTES = 512 * 1024;

export const SUBTREE_PAGE = { default: 50, max: 200 } as const;
export const ROUND_PAGE = { default: 20, max: 100 } as const;
