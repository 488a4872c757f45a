import { ApiError } from '../api/problem.ts';
import { parseCheckpoint, type Checkpoint, type GlobalEntry } from '../core/checkpoint.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { ROOT_ID_HEX } from '../core/object-id.ts';
import { childKey } from '../core/system-calls.ts';
import type { Proof } from '../core/smt/types.ts';
import { noteVerifierKey, toBase64 } from '../core/note.ts';
import { readTimestamp, writeDetached } from '../core/ots.ts';
import type { NodeContext } from '../services/context.ts';
import { StateReader, type StateView } from '../services/get-state.ts';
import { getAnchor, getCheckpoint, globalEntryAt, latestCheckpoint, type CheckpointRow } from '../store/checkpoints.ts';
import { getRound, getSubtree } from '../store/index.ts';
import { verifyProof } from '../core/smt/verify.ts';
import type { JsonValue } from '../core/jcs.ts';
import { peerFor, peerProblem } from '../follow/peer-for.ts';
import { CheckpointBuilder, nodePublicKeyBytes, type CheckpointReport } from './build-checkpoint.ts';
import { CheckpointLog } from './checkpoint-log.ts';

/** A checkpoint as the API serves it (JSON form; the note is the text form). */
export interface CheckpointView {
  checkpoint: Checkpoint;
  /** `digest("checkpoint", checkpoint)`. */
  hash: string;
  /** The node key's signature over `hash`. */
  sig: string;
  signer: string;
  /** Log size this checkpoint completes (`seq + 1`) and the RFC 6962 root at that size. */
  logSize: number;
  logRoot: string;
  /** The C2SP tlog-checkpoint signed note for `logSize`. */
  note: string;
  /** The note key in the `<name>+<hex id>+<base64 key>` form verifiers take. */
  noteKey: string;
}

export interface InclusionView {
  seq: number;
  /** Tree size the proof is against. */
  size: number;
  leafHash: string;
  root: string;
  proof: string[];
  checkpoint: Checkpoint;
}

export interface ConsistencyView {
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
}

/**
 * A value with every link up to Bitcoin (SPEC §9 "full proof chain"): the state view (value →
 * state root → signed round) read at the height the chosen checkpoint's global tree holds, plus
 * global-tree proof → checkpoint (signed) → its inclusion in the log of `size` → the signed note
 * of that size → the `.ots` of that size's log root (when a calendar has answered).
 */
export interface ChainView extends StateView {
  chain: {
    /**
     * Nested subtrees only: the way up to the top-level ancestor, immediate parent first. Each is
     * the parent's state proof of `sys/child/<child>` (= the child's `{root, height, round}` the
     * level below is read at) with the parent's final round and its signed creation request.
     */
    parents?: ParentLink[];
    global: { seq: number; globalRoot: string; entry: GlobalEntry; proof: Proof };
    checkpoint: { checkpoint: Checkpoint; hash: string; sig: string; signer: string };
    log: { size: number; index: number; leafHash: string; root: string; proof: string[] };
    /** The C2SP note of log size `log.size`. */
    note: string;
    /** base64 of the `.ots` file for log root `log.root`; null while no calendar answered (or anchoring is off). */
    ots: string | null;
    anchor: { status: 'pending' | 'confirmed'; bitcoinHeight: number | null } | null;
  };
}

export interface ParentLink extends StateView {
  /** The parent's creation request (its id and mode: the verifier checks both). */
  request: unknown;
}

/** How deep nesting may go before a lineage walk gives up (ids hash their parent: no cycles). */
const MAX_NESTING = 64;

export interface GlobalProofView {
  subtree: string;
  /** The checkpoint whose global root the proof is against. */
  seq: number;
  globalRoot: string;
  entry: GlobalEntry;
  /** SPEC §4 proof of key `hex(subtree)` against `globalRoot`. */
  proof: Proof;
}

/**
 * Reads of the checkpoint log and the global tree, plus the in-process builder. One per node
 * context (see `checkpointService`): it owns the log's leaf cache.
 */
export class CheckpointService {
  readonly log: CheckpointLog;
  readonly builder: CheckpointBuilder;
  private readonly noteKey: string;
  private readonly reader: StateReader;

  constructor(
    readonly ctx: NodeContext,
    calendars: readonly string[],
  ) {
    this.log = new CheckpointLog(ctx.db, ctx.hash);
    this.builder = new CheckpointBuilder(ctx, { log: this.log, calendars });
    this.reader = new StateReader(ctx);
    this.noteKey = noteVerifierKey(ctx.config.origin, nodePublicKeyBytes(ctx.signer.publicKey), ctx.hash);
  }

  build(): Promise<CheckpointReport> {
    return this.builder.build();
  }

  async latestRow(): Promise<CheckpointRow> {
    const row = await latestCheckpoint(this.ctx.db);
    if (!row) throw new ApiError('not_found', 'no checkpoint has been built yet');
    return row;
  }

  async row(seq: number): Promise<CheckpointRow> {
    const row = await getCheckpoint(this.ctx.db, seq);
    if (!row) throw new ApiError('not_found', `checkpoint ${seq} does not exist`);
    return row;
  }

  view(row: CheckpointRow): CheckpointView {
    return {
      checkpoint: parseCheckpoint(row.body),
      hash: row.hash,
      sig: row.sig,
      signer: row.signer,
      logSize: row.seq + 1,
      logRoot: row.logRoot,
      note: row.note,
      noteKey: this.noteKey,
    };
  }

  /** Size defaults to the latest log size. */
  async inclusion(seq: number, size?: number): Promise<InclusionView> {
    const latest = await this.latestRow();
    const n = size ?? latest.seq + 1;
    if (n > latest.seq + 1) throw new ApiError('not_found', `the checkpoint log has ${latest.seq + 1} entries, not ${n}`);
    if (seq >= n) throw new ApiError('validation_failed', `checkpoint ${seq} is not in the log of size ${n}`, { seq, size: n });
    await this.log.sync(n);
    const row = await this.row(seq);
    return {
      seq,
      size: n,
      leafHash: toHex(this.log.leaf(seq)),
      root: toHex(this.log.rootAt(n)),
      proof: this.log.inclusionProof(seq, n).map(toHex),
      checkpoint: parseCheckpoint(row.body),
    };
  }

  async consistency(from: number, to?: number): Promise<ConsistencyView> {
    const latest = await this.latestRow();
    const n = to ?? latest.seq + 1;
    if (n > latest.seq + 1) throw new ApiError('not_found', `the checkpoint log has ${latest.seq + 1} entries, not ${n}`);
    if (from > n) throw new ApiError('validation_failed', '`from` must not exceed `to`', { from, to: n });
    await this.log.sync(n);
    return {
      from,
      to: n,
      fromRoot: toHex(this.log.rootAt(from)),
      toRoot: toHex(this.log.rootAt(n)),
      proof: this.log.consistencyProof(from, n).map(toHex),
    };
  }

  /**
   * The proof chain for `key` of subtree `subtree` (top-level, or nested: then through each parent's
   * `sys/child/<child>` entry up to the top-level ancestor in the global tree). `seq` picks the checkpoint whose
   * global tree is used (default: the one completing `size`); `size` the log size whose note and
   * `.ots` end the chain (default: latest). The value is read at the height that checkpoint holds,
   * so it may lag the subtree's head (eventual consistency).
   */
  async chain(subtree: string, key: string, q: { seq?: number; size?: number } = {}): Promise<ChainView> {
    const latest = await this.latestRow();
    const size = q.size ?? latest.seq + 1;
    if (size < 1 || size > latest.seq + 1) throw new ApiError('not_found', `the checkpoint log has ${latest.seq + 1} entries, not ${size}`);
    const seq = q.seq ?? size - 1;
    if (seq >= size) throw new ApiError('validation_failed', `checkpoint ${seq} is not in the log of size ${size}`, { seq, size });
    // A nested subtree proves through its ancestors: the top-level one is in the global tree,
    // each parent's state at the height the level above holds names the child's round.
    const lineage = await this.lineage(subtree);
    const global = await this.globalProof(lineage[lineage.length - 1]!, seq);
    let height = global.entry.height;
    const parents: ParentLink[] = [];
    for (let i = lineage.length - 1; i >= 1; i--) {
      const parent = lineage[i]!;
      const child = lineage[i - 1]!;
      const link = await this.readAt(parent, childKey(child), height);
      const entry = link.value as { height?: unknown } | undefined;
      if (!link.exists || typeof entry?.height !== 'number') {
        throw new ApiError('not_found', `subtree ${child} is not recorded in its parent ${parent} at height ${height} yet (a parent shows a child's head after its next round)`);
      }
      const row = await getSubtree(this.ctx.db, parent);
      parents.unshift({ ...link, request: row?.request ?? null });
      height = entry.height;
    }
    const state = await this.readAt(subtree, key, height);
    const cp = this.view(await this.row(seq));
    const top = seq === size - 1 ? cp : this.view(await this.row(size - 1));
    const inc = await this.inclusion(seq, size);
    let ots: Awaited<ReturnType<CheckpointService['otsFile']>> | null = null;
    try {
      ots = await this.otsFile(size - 1);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'not_found')) throw e;
    }
    return {
      ...state,
      chain: {
        ...(parents.length > 0 ? { parents } : {}),
        global: { seq: global.seq, globalRoot: global.globalRoot, entry: global.entry, proof: global.proof },
        checkpoint: { checkpoint: cp.checkpoint, hash: cp.hash, sig: cp.sig, signer: cp.signer },
        log: { size, index: seq, leafHash: inc.leafHash, root: inc.root, proof: inc.proof },
        note: top.note,
        ots: ots ? toBase64(ots.bytes) : null,
        anchor: ots ? { status: ots.status, bitcoinHeight: ots.bitcoinHeight } : null,
      },
    };
  }

  /**
   * A state view at final round `height`: read here, or — for a light follow, which keeps no state
   * — fetched from the origin and accepted only if its proof folds to the `stateRoot` of the round
   * this node verified at that height; the answer carries this node's copy of that round (SPEC §12).
   */
  private async readAt(subtree: string, key: string, height: number): Promise<StateView> {
    const facts = await this.ctx.subtrees.get(subtree);
    if (facts?.verify !== 'headers' || !facts.origin) return this.reader.read(subtree, key, { height });
    const mine = await getRound(this.ctx.db, subtree, height);
    if (!mine || mine.status !== 'final') throw new ApiError('not_found', `round ${height} of subtree ${subtree} is not verified here`);
    let s;
    try {
      s = await peerFor(this.ctx, facts.origin).state(subtree, key, height);
    } catch (e) {
      throw peerProblem(e, `origin ${facts.origin}`);
    }
    const bad = (why: string) => new ApiError('origin_bad_answer', `origin ${facts.origin}: the state of ${JSON.stringify(key)} at round ${height} ${why}`);
    if (s.subtree !== subtree || s.key !== key || s.height !== height || s.root !== mine.stateRoot) throw bad(`is for another subtree, key, round or root (${s.root}; verified here: ${mine.stateRoot})`);
    try {
      verifyProof(s.proof, { key, root: mine.stateRoot, ...(s.exists ? { value: s.value as JsonValue } : {}) }, this.ctx.hash);
    } catch (e) {
      throw bad(`does not verify: ${e instanceof Error ? e.message : String(e)}`);
    }
    return {
      subtree,
      key,
      exists: s.exists,
      ...(s.exists ? { value: s.value as JsonValue } : {}),
      height,
      root: mine.stateRoot,
      proof: s.proof,
      roundHash: mine.hash,
      round: { header: mine.header, signatures: mine.signatures },
    };
  }

  /** `subtree`, its parent, …, up to its top-level ancestor. */
  private async lineage(subtree: string): Promise<string[]> {
    const out = [subtree];
    for (let id = subtree; ; ) {
      const row = await getSubtree(this.ctx.db, id);
      if (!row) throw new ApiError('unknown_subtree', `subtree ${id} does not exist`);
      if (row.parent === ROOT_ID_HEX) return out;
      if (out.length > MAX_NESTING) throw new ApiError('not_found', `subtree ${subtree} is nested deeper than ${MAX_NESTING} levels`);
      out.push((id = row.parent));
    }
  }

  /** The `.ots` file of checkpoint `seq`'s log root, as far as the calendars have answered. */
  async otsFile(seq: number): Promise<{ bytes: Uint8Array; status: 'pending' | 'confirmed'; bitcoinHeight: number | null }> {
    await this.row(seq);
    const a = await getAnchor(this.ctx.db, seq);
    if (!a) throw new ApiError('not_found', `checkpoint ${seq} is not anchored (anchoring was off when it was built)`);
    if (!a.proof) throw new ApiError('not_found', `no OpenTimestamps calendar has answered for checkpoint ${seq} yet; retry later`, { status: a.status });
    const ts = readTimestamp(a.proof, fromHex(a.digest, 32), this.ctx.hash);
    return { bytes: writeDetached(ts), status: a.status, bitcoinHeight: a.bitcoinHeight };
  }

  /** Proof of a top-level subtree's entry in the global tree of checkpoint `seq` (latest by default). */
  async globalProof(subtree: string, seq?: number): Promise<GlobalProofView> {
    const cp = seq === undefined ? await this.latestRow() : await this.row(seq);
    const entry = await globalEntryAt(this.ctx.db, subtree, cp.seq);
    if (!entry) {
      const st = await getSubtree(this.ctx.db, subtree);
      if (!st) throw new ApiError('unknown_subtree', `subtree ${subtree} does not exist`);
      if (st.parent !== '0'.repeat(64)) {
        throw new ApiError('not_found', `subtree ${subtree} is nested under ${st.parent}: its head is committed in its parent's state (sys/child/${subtree}), not in the global tree`);
      }
      throw new ApiError('not_found', `subtree ${subtree} is not in checkpoint ${cp.seq} yet (the global tree lags by design)`);
    }
    const proof = await this.ctx.tree.prove(fromHex(cp.globalRoot, 32), subtree);
    return { subtree, seq: cp.seq, globalRoot: cp.globalRoot, entry: { root: entry.root, height: entry.height, round: entry.round, ...(entry.verify ? { verify: entry.verify } : {}) }, proof };
  }
}

const services = new WeakMap<NodeContext, CheckpointService>();

/** The checkpoint service of a node context, made on first use (one per context, never global). */
export function checkpointService(ctx: NodeContext): CheckpointService {
  let s = services.get(ctx);
  if (!s) {
    s = new CheckpointService(ctx, ctx.config.otsCalendars);
    services.set(ctx, s);
  }
  return s;
}
