import { ApiError, type ProblemCode } from '../api/problem.ts';
import { fromHex } from '../core/hex.ts';
import type { JsonValue } from '../core/jcs.ts';
import type { Admission, ProgramTx } from '../core/programs/types.ts';
import type { SparseMerkleTree } from '../core/smt/tree.ts';
import { readState, type ValueReader } from '../core/state-reader.ts';
import type { Tx } from '../core/tx.ts';
import { pendingAfter, subtreeHead, type Database, type SubtreeRoot } from '../store/index.ts';
import type { SubtreeFacts } from './subtree-cache.ts';

/** Credits of the pending transactions seen so far, valid while the subtree stays at `height`. */
interface InFlight {
  height: number;
  scannedSeq: number;
  keys: Set<string>;
}

/** Final-state values admission has read, valid while the subtree stays at `height`. */
interface FinalValues {
  height: number;
  values: Map<string, JsonValue | undefined>;
}

const MAX_SUBTREES = 10_000;
const MAX_VALUES = 4096;
const NONE: ReadonlySet<string> = new Set();
const NO_STATE = { get: () => undefined };

/**
 * SPEC §7.1 admission at accept time: the program's `admit` over the latest final state and the
 * credits in flight (transactions accepted and not yet executed, plus a batch's earlier items).
 * The common case costs no database read: the head comes from the latest group commit while
 * nothing else was written since (`GroupCommitter.recentHead`; else it is read), final values are
 * kept per subtree until its next round, and the pending log is scanned only before refusing, and
 * then only past what was scanned already (other instances' accepts included). A refusal is
 * always decided on a fresh read of the head.
 */
export class AdmissionGate {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly finals = new Map<string, FinalValues>();

  constructor(
    private readonly db: Database,
    private readonly tree: SparseMerkleTree,
    private readonly values: ValueReader,
    /** A head known without reading it (the committer's), if any. */
    private readonly recentHead: (subtree: string) => SubtreeRoot | undefined = () => undefined,
  ) {}

  /** Resolves when admitted; throws the program's refusal as a 4xx problem. */
  async check(facts: SubtreeFacts, tx: Tx, batch: ReadonlySet<string> = NONE): Promise<void> {
    const adm = facts.program.admission;
    if (!adm) return;
    const ptx: ProgramTx = { sender: tx.sender, nonce: tx.nonce, call: tx.call, args: tx.args };
    const keys = adm.reads(facts.config, ptx);
    // A check that reads no state (kv's writers) needs no head read unless it would refuse.
    if (keys.length === 0 && adm.admit(facts.config, ptx, NO_STATE, batch) === null) return;
    const head = this.recentHead(facts.id) ?? (await subtreeHead(this.db, facts.id));
    if (!head) return; // the append decides unknown subtrees
    const known = this.inFlight.get(facts.id);
    const cached = known?.height === head.height ? known.keys : NONE;
    let code = adm.admit(facts.config, ptx, await this.state(facts.id, head, keys), union(batch, cached));
    if (code === null) return;
    // Before refusing, look at everything now in flight, then at the state again: a round that
    // executed a credit between the two reads moved it from the log into the state.
    const credits = await this.scan(facts, adm, head.height);
    const now = (await subtreeHead(this.db, facts.id)) ?? head;
    code = adm.admit(facts.config, ptx, await this.state(facts.id, now, keys), union(batch, credits));
    if (code === null) return;
    throw new ApiError(
      code as ProblemCode,
      `${facts.programName} refuses this ${tx.call}: it would fail with ${code} (admission at accept time; nothing was appended, the nonce is unused)`,
      { admission: true },
      code === 'unauthorized' ? 403 : 409,
    );
  }

  /** Keys this transaction credits while pending, for the batch's later items. */
  credits(facts: SubtreeFacts, tx: Tx): string[] {
    return facts.program.admission?.credits(facts.config, { sender: tx.sender, nonce: tx.nonce, call: tx.call, args: tx.args }) ?? [];
  }

  private async state(subtree: string, head: SubtreeRoot, keys: readonly string[]) {
    let f = this.finals.get(subtree);
    if (!f || f.height !== head.height || f.values.size > MAX_VALUES) {
      f = { height: head.height, values: new Map() };
      remember(this.finals, subtree, f);
    }
    const missing = keys.filter((k) => !f.values.has(k));
    if (missing.length > 0) {
      const read = await readState(this.tree, this.values, fromHex(head.root, 32), missing);
      for (const [k, v] of read) f.values.set(k, v);
    }
    const values = f.values;
    return { get: (key: string) => values.get(key) };
  }

  private async scan(facts: SubtreeFacts, adm: Admission, height: number): Promise<ReadonlySet<string>> {
    let f = this.inFlight.get(facts.id);
    // A new round executed some of what was in flight: start over from the pending log.
    if (!f || f.height !== height) {
      f = { height, scannedSeq: -1, keys: new Set() };
      remember(this.inFlight, facts.id, f);
    }
    for (const { seq, envelope } of await pendingAfter(this.db, facts.id, f.scannedSeq)) {
      const t = envelope.tx;
      for (const k of adm.credits(facts.config, { sender: t.sender, nonce: t.nonce, call: t.call, args: t.args })) f.keys.add(k);
      f.scannedSeq = seq;
    }
    return f.keys;
  }
}

function union(a: ReadonlySet<string>, b: ReadonlySet<string>): ReadonlySet<string> {
  if (a.size === 0) return b;
  if (b.size === 0) return a;
  return new Set([...a, ...b]);
}

function remember<V>(m: Map<string, V>, key: string, v: V): void {
  m.delete(key);
  if (m.size >= MAX_SUBTREES) m.delete(m.keys().next().value!);
  m.set(key, v);
}
