import type { Sha256 } from '../core/hash.ts';
import { fromHex } from '../core/hex.ts';
import { consistencyProofFrom, emptyRoot, inclusionProofFrom, nodeHash, type SubtreeHash } from '../core/merkle-log.ts';
import { checkpointLeafHashes } from '../store/checkpoints.ts';
import type { Database } from '../store/database.ts';

/** Perfect subtrees smaller than this are recomputed rather than kept (memory vs a few hashes). */
const MEMO_MIN = 16;

/**
 * The checkpoint log's leaf hashes, read once from the database and kept: committed leaves never
 * change, so the cache only grows (append-only), and hashes of perfect (aligned power-of-two)
 * subtrees are memoized. Proofs and roots then cost O(log n) hashes after warm-up. Leaves another
 * process committed are picked up by `sync`.
 */
export class CheckpointLog {
  private leaves: Uint8Array[] = [];
  private readonly memo = new Map<number, Uint8Array>();

  constructor(
    private readonly db: Database,
    private readonly hash: Sha256,
  ) {}

  get size(): number {
    return this.leaves.length;
  }

  /** Loads committed leaves up to `size` (exclusive). */
  async sync(size: number): Promise<void> {
    if (size <= this.leaves.length) return;
    const rows = await checkpointLeafHashes(this.db, this.leaves.length, size);
    for (const h of rows) this.leaves.push(fromHex(h, 32));
    if (this.leaves.length < size) throw new Error(`checkpoint log has ${this.leaves.length} leaves, expected ${size}`);
  }

  /** MTH of the first `size` leaves (after `sync(size)`). */
  rootAt(size: number): Uint8Array {
    this.assertSynced(size);
    return size === 0 ? emptyRoot(this.hash) : this.subtree(this.leaves, 0, size, true);
  }

  /** The root of the log with one more (uncommitted) leaf appended: for building the next checkpoint. */
  rootWithNext(leaf: Uint8Array): Uint8Array {
    const all = [...this.leaves, leaf];
    const n = all.length;
    // The committed part may use the memo; anything touching the new leaf is recomputed.
    return this.subtree(all, 0, n, false);
  }

  inclusionProof(index: number, size: number): Uint8Array[] {
    this.assertSynced(size);
    return inclusionProofFrom(this.subtreeHash(size), size, index);
  }

  consistencyProof(oldSize: number, size: number): Uint8Array[] {
    this.assertSynced(size);
    return consistencyProofFrom(this.subtreeHash(size), size, oldSize);
  }

  leaf(index: number): Uint8Array {
    const l = this.leaves[index];
    if (!l) throw new RangeError(`no checkpoint leaf ${index}`);
    return l;
  }

  private subtreeHash(size: number): SubtreeHash {
    return (start, end) => {
      if (!(0 <= start && start < end && end <= size)) throw new RangeError(`subtree [${start}, ${end}) outside the log of size ${size}`);
      return this.subtree(this.leaves, start, end, true);
    };
  }

  private assertSynced(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.leaves.length) {
      throw new RangeError(`log size ${size} is beyond the ${this.leaves.length} loaded leaves`);
    }
  }

  /** MTH(leaves[start:end]); `committed` says the range holds committed leaves only (memo allowed). */
  private subtree(leaves: readonly Uint8Array[], start: number, end: number, committed: boolean): Uint8Array {
    const n = end - start;
    if (n === 1) return leaves[start]!;
    const perfect = (n & (n - 1)) === 0 && start % n === 0;
    const memoOk = perfect && n >= MEMO_MIN && (committed || end <= this.leaves.length);
    // Perfect aligned subtrees are unique by (start, size): key on start * 2 + … is ambiguous, so use end too.
    const key = memoOk ? start * 64 + Math.log2(n) : -1;
    if (memoOk) {
      const hit = this.memo.get(key);
      if (hit) return hit;
    }
    let k = 1;
    while (k * 2 < n) k *= 2;
    const h = nodeHash(
      this.subtree(leaves, start, start + k, committed || start + k <= this.leaves.length),
      this.subtree(leaves, start + k, end, committed || end <= this.leaves.length),
      this.hash,
    );
    if (memoOk) this.memo.set(key, h);
    return h;
  }
}
