import type { HashInto, PackedBatch } from './apply-batch.ts';
import { InPlace, type NodeSpace } from './apply-in-place.ts';
import { CLAIM_FREE, CLAIM_HELPER, SEGMENT_NODES, SIDE_ARENA_FULL, SIDE_DONE, SIDE_FAILED, UNKNOWN_LINK } from './node-ids.ts';
import { faultIn } from './segment-memory.ts';

/**
 * A batch applied on two threads. A store whose segments live in shared memory
 * (`MemoryNodeStore` with a helper) splits a large batch below its top levels into subtrees and
 * offers the rightmost of them to a helper thread as a `SideJob`. The two threads then walk
 * toward each other: the caller through the subtrees from the left, the helper from the right,
 * each claiming a subtree before walking it (`claims`), until they meet. Neither waits for the
 * other to be given a share, and a thread slowed by anything else simply walks less.
 * The helper runs the same walk (`InPlace`) over the same memory, reading the store's segments
 * and writing its new nodes into store segments lent to it (`arena`), under their final ids; it
 * answers through shared memory (`out`), so the caller picks the answer up without waiting for an
 * event loop turn. The caller then notes where the helper's nodes are (`InPlace.takeSide`, no
 * copy) and joins the top levels. The rules are the same code, so the root is the same byte for
 * byte.
 *
 * This file is the helper's side: the job's shape and the helper's view of the store. Moving a
 * job to a thread is the runtime's business (src/platform/tree-helper.ts).
 */

/** A segment's three arrays, in shared memory. */
export interface SharedSegment {
  hash32: Int32Array;
  bytes: Uint8Array;
  links: Int32Array;
}

/** A batch copied into shared memory, and the order of its writes both threads walk in. */
export interface SharedBatch {
  batch: PackedBatch;
  idx: Int32Array;
}

/** The writes under some subtrees, for a helper. */
export interface SideJob {
  /** Store segments the helper has not seen yet, numbered from `segFrom` (shared memory: never copied). */
  segFrom: number;
  segments: SharedSegment[];
  /** The store's segment count now (the helper has seen every segment below it). */
  base: number;
  /**
   * Store segments lent for the helper's new nodes, in the order it fills them, starting at node
   * `arenaStart` of the first (the rest of what the previous job left). No one else writes there.
   */
  arena: Int32Array;
  arenaStart: number;
  /** Subtrees it may update: (old id or NO_NODE, lo, hi, depth) each, over the writes below. */
  tasks: Int32Array;
  /**
   * One per task, in shared memory: CLAIM_FREE until a thread claims it with a compare-exchange
   * (CLAIM_HELPER from the last task down, CLAIM_CALLER from the first up); each stops at the
   * first it cannot claim.
   */
  claims: Int32Array;
  /**
   * The whole batch and the caller's order of it, in shared memory (never copied): task k's
   * writes are idx[lo..hi), which only the thread walking task k reorders.
   */
  batch: PackedBatch;
  idx: Int32Array;
  /**
   * The answer, in shared memory: `[state, arena segments used, new id of each task it claimed…,
   * where the helper's nodes end in each arena segment used…]`. Ids are the store's: NO_NODE, an
   * old node or one of the helper's. The state turns from SIDE_RUNNING last, with `Atomics.notify`.
   */
  out: Int32Array;
  /**
   * Memory the store will take next (segment-memory.ts): after answering, the helper faults its
   * pages in, which the store would otherwise do on the batch's critical path, until `jobsSent[0]`
   * (shared) passes this job's `serial`.
   */
  prefault: Uint8Array[];
  serial: number;
  jobsSent: Int32Array;
}

/** Runs side jobs on another thread. One helper serves one store. */
export interface SideHelper {
  /** Sends a job; false when the helper cannot take it (its thread is gone or not loaded yet). */
  start(job: SideJob): boolean;
  /**
   * Blocks until the job's state leaves SIDE_RUNNING; false when the helper gave up on it (its
   * thread failed or hung). Then the caller walks those subtrees itself, and the helper must never
   * touch that job's memory again.
   */
  wait(job: SideJob): boolean;
  /** The most of a batch's writes (0.1-0.9) to offer it; the store picks when absent. */
  readonly share?: number;
}

/** Thrown inside the helper's walk where only the store's hash table could answer. */
class NeedsStore extends Error {}
/** Thrown when the walk needs more arena than it was lent. */
class ArenaFull extends Error {}

/** The helper's view of a store: its shared segments up to the job's `base`, some lent for the helper's new nodes (`arena`). */
export class SideSpace implements NodeSpace {
  readonly segHash32: Int32Array[] = [];
  readonly segBytes: Uint8Array[] = [];
  readonly segLinks: Int32Array[] = [];
  own = -1;
  ownCount = SEGMENT_NODES;
  private arena: Int32Array = new Int32Array(0);
  private arenaStart = 0;
  private used = 0;

  constructor(private readonly hashInto: HashInto) {}

  /** Runs a job and answers in `job.out`. */
  run(job: SideJob): void {
    const out = job.out;
    let state = SIDE_FAILED;
    try {
      this.take(job);
      const a = new InPlace(this, this.hashInto, job.batch, job.idx);
      const t = job.tasks;
      const tasks = t.length / 4;
      for (let j = tasks - 1; j >= 0; j--) {
        if (Atomics.compareExchange(job.claims, j, CLAIM_FREE, CLAIM_HELPER) !== CLAIM_FREE) break;
        out[2 + j] = a.update(t[j * 4]!, t[j * 4 + 1]!, t[j * 4 + 2]!, t[j * 4 + 3]!);
      }
      a.close();
      // Every arena segment but the last was filled before the next was opened.
      for (let j = 0; j < this.used; j++) out[2 + tasks + j] = j < this.used - 1 ? SEGMENT_NODES : this.ownCount;
      out[1] = this.used;
      state = SIDE_DONE;
    } catch (err) {
      // A link only the store can look up, a malformed tree, a full arena: the caller walks the
      // subtrees claimed here itself (and meets the same error, if it is one).
      if (err instanceof ArenaFull) state = SIDE_ARENA_FULL;
    } finally {
      Atomics.store(out, 0, state);
      Atomics.notify(out, 0);
    }
    // Idle until the next job anyway: take the store's next page faults off its thread.
    faultIn(job.prefault, () => Atomics.load(job.jobsSent, 0) !== job.serial);
  }

  private take(job: SideJob): void {
    if (job.segFrom > this.segHash32.length) throw new Error('helper is missing segments');
    // A store that lost a helper starts over from segment 0 with the next one.
    this.segHash32.length = this.segBytes.length = this.segLinks.length = job.segFrom;
    for (const s of job.segments) {
      this.segHash32.push(s.hash32);
      this.segBytes.push(s.bytes);
      this.segLinks.push(s.links);
    }
    if (this.segHash32.length !== job.base) throw new Error('helper segments out of step');
    this.arena = job.arena;
    this.arenaStart = job.arenaStart;
    this.used = 0;
    this.own = -1;
    this.ownCount = SEGMENT_NODES;
  }

  newOwnSegment(): void {
    if (this.used === this.arena.length) throw new ArenaFull();
    this.own = this.arena[this.used]!;
    this.ownCount = this.used === 0 ? this.arenaStart : 0;
    this.used++;
  }

  /** An unknown link needs the store's hash table, which only the store's thread holds. */
  childLink(seg: number, i: number, side: number): number {
    const c = this.segLinks[seg]![i * 2 + side]!;
    if (c !== UNKNOWN_LINK) return c;
    throw new NeedsStore();
  }
}
