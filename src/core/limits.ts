/** Size limits of SPEC §6, shared by the API (body checks) and the core (args check). */
export const MAX_BODY_BYTES = 65_536;
/** `jcs(args)` must fit in 16 KiB of UTF-8. */
export const MAX_ARGS_BYTES = 16_384;
export const MAX_BATCH = 1000;
/** Genesis bounds for a creation request (SPEC §5 is silent; these keep round 0 cheap to build). */
export const MAX_GENESIS_ENTRIES = 10_000;
export const MAX_STATE_KEY_CHARS = 512;
