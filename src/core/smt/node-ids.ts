/**
 * Node ids of the in-memory store: `segment << SEGMENT_BITS | index`. A segment holds at most
 * 2^SEGMENT_BITS nodes, so ids stay positive int32s for up to 2^31 nodes.
 */
export const SEGMENT_BITS = 14;
export const SEGMENT_MASK = (1 << SEGMENT_BITS) - 1;
/** A link to an empty subtree. */
export const NO_NODE = -1;
/** A link not looked up yet (the node came in as bytes). */
export const UNKNOWN_LINK = -2;
/** What a link lookup answers when the store lacks the child (never stored as a link). */
export const MISSING_NODE = -4;
/** The first link of a leaf (leaves have no children; this says the kind without reading the node). */
export const LEAF_LINK = -3;
/** Nodes per segment. */
export const SEGMENT_NODES = 1 << SEGMENT_BITS;

/** State of a helper's job (`SideJob.out[0]`, apply-side.ts): working, answered, could not finish. */
export const SIDE_RUNNING = 0;
export const SIDE_DONE = 1;
export const SIDE_FAILED = 2;
/** The helper ran out of the arena it was lent: the store lends more next time. */
export const SIDE_ARENA_FULL = 3;

/** Who walks each subtree a helper could take (`SideJob.claims`): claimed once, by compare-exchange. */
export const CLAIM_FREE = 0;
export const CLAIM_CALLER = 1;
export const CLAIM_HELPER = 2;
