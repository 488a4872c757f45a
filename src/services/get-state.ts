import { ApiError } from '../api/problem.ts';
import { fromHex, toHex } from '../core/hex.ts';
import type { JsonValue } from '../core/jcs.ts';
import { pathOf } from '../core/smt/hashing.ts';
import { toIcs23Existence } from '../core/smt/ics23.ts';
import type { Proof } from '../core/smt/types.ts';
import { Lru, getRound, subtreeHead, type Round, type RoundSignature } from '../store/index.ts';
import type { NodeContext } from './context.ts';
import { headersOnly, unknownSubtree } from './get-subtree.ts';
import { missingRound } from './get-round.ts';

/**
 * GET /v1/subtrees/:id/state/:key (SPEC §4, §11): a value with everything a client needs to check
 * it without trusting this node — the SPEC §4 proof against `root`, and the signed round whose
 * header commits to that root (`round.header.stateRoot == root`, signatures over `roundHash`).
 */
export interface StateView {
  subtree: string;
  key: string;
  exists: boolean;
  /** Present iff `exists`. */
  value?: JsonValue;
  /** The final round the answer is read at. */
  height: number;
  /** State root after that round; `proof` folds to it. */
  root: string;
  proof: Proof;
  /** `digest("round", round.header)`. */
  roundHash: string;
  round: { header: JsonValue; signatures: RoundSignature[] };
  /** With `?format=ics23`: a protobuf `CommitmentProof` (hex) that `@confio/ics23` verifies with `smtSpec`. */
  ics23?: { proof: string; spec: 'smt'; key: string; value: string };
}

export interface StateQuery {
  /** A past final height; the latest final round when absent. */
  height?: number;
  ics23?: boolean;
}

interface SignedRound {
  header: JsonValue;
  signatures: RoundSignature[];
}

/** A final round as a state read needs it; final rounds never change, so it is safe to keep. */
interface FinalRound {
  height: number;
  hash: string;
  root: string;
  round: SignedRound;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

const roundKey = (subtree: string, height: number) => `${subtree}/${height}`;

/**
 * Serves state reads with one head read, one proof walk through the cached tree and one value
 * fetch from the cached value store. The subtree head is read on every request (it moves with
 * every round); final rounds are cached by (subtree, height): they are immutable, and the cached
 * entry is only used when its hash equals the head hash just read.
 */
export class StateReader {
  private readonly rounds: Lru<FinalRound>;

  constructor(
    private readonly ctx: NodeContext,
    opts: { maxRounds?: number } = {},
  ) {
    this.rounds = new Lru(opts.maxRounds ?? 4096);
  }

  async read(subtree: string, key: string, q: StateQuery = {}): Promise<StateView> {
    const at = q.height === undefined ? await this.latest(subtree) : await this.historical(subtree, q.height);
    const proof = await this.ctx.tree.prove(fromHex(at.root, 32), key);
    // Inclusion iff the leaf found is this key's own; any other leaf proves absence (SPEC §4).
    const mine = proof.leaf !== null && proof.leaf.path === toHex(pathOf(key, this.ctx.hash));
    const value = mine ? await this.value(proof.leaf!.valueHash, key) : undefined;
    const view: StateView = {
      subtree,
      key,
      exists: value !== undefined,
      ...(value !== undefined ? { value } : {}),
      height: at.height,
      root: at.root,
      proof,
      roundHash: at.hash,
      round: at.round,
    };
    if (q.ics23) view.ics23 = this.ics23(proof, value, key);
    return view;
  }

  private async latest(subtree: string): Promise<FinalRound> {
    const head = await subtreeHead(this.ctx.db, subtree);
    if (!head) throw unknownSubtree(subtree);
    if (head.headersOnly) throw headersOnly(subtree, (await this.ctx.subtrees.get(subtree))?.origin ?? null);
    const hit = this.rounds.get(roundKey(subtree, head.height));
    if (hit && hit.hash === head.headHash) return hit;
    // Rounds are committed together with the head that names them, so this row exists.
    const row = await getRound(this.ctx.db, subtree, head.height);
    if (!row || row.hash !== head.headHash) throw new Error(`subtree ${subtree}: head round ${head.height} (${head.headHash}) not found`);
    return this.remember(row);
  }

  private async historical(subtree: string, height: number): Promise<FinalRound> {
    const facts = await this.ctx.subtrees.get(subtree);
    if (facts?.verify === 'headers') throw headersOnly(subtree, facts.origin);
    const hit = this.rounds.get(roundKey(subtree, height));
    if (hit) return hit;
    const row = await getRound(this.ctx.db, subtree, height);
    // Only final rounds are answered: a proposal's root may never become state.
    if (!row || row.status !== 'final') {
      const err = await missingRound(this.ctx, subtree, height);
      if (row && err.code === 'not_found') throw new ApiError('not_found', `round ${height} of subtree ${subtree} is not final yet`);
      throw err;
    }
    return this.remember(row);
  }

  private remember(row: Round): FinalRound {
    const r: FinalRound = {
      height: row.height,
      hash: row.hash,
      root: row.stateRoot,
      round: { header: row.header, signatures: row.signatures },
    };
    if (row.status === 'final') this.rounds.set(roundKey(row.subtree, row.height), r);
    return r;
  }

  private async value(valueHash: string, key: string): Promise<JsonValue> {
    const [bytes] = await this.ctx.store.getValues([fromHex(valueHash, 32)]);
    // A tree leaf without its value blob is a broken store, not bad input: let it surface as 500.
    if (bytes === undefined) throw new Error(`value ${valueHash} of key ${JSON.stringify(key)} missing from the value store`);
    return JSON.parse(decoder.decode(bytes)) as JsonValue;
  }

  private ics23(proof: Proof, value: JsonValue | undefined, key: string): StateView['ics23'] {
    if (value === undefined) {
      throw new ApiError(
        'ics23_exclusion_unsupported',
        `key ${JSON.stringify(key)} is absent; ICS-23 non-existence proofs are not offered for this tree (use the SPEC §4 exclusion proof in "proof")`,
      );
    }
    const e = toIcs23Existence(proof, value, this.ctx.hash);
    return { proof: toHex(e.bytes), spec: 'smt', key: toHex(e.key), value: toHex(e.value) };
  }
}
