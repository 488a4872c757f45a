import { DstpHttpError, type DstpClient } from '../client/http.ts';
import { programsFromNode } from '../platform/sandbox/node-programs.ts';
import type { ProgramLibrary } from '../platform/sandbox/program-library.ts';
import type { SigningKey } from '../client/keys.ts';
import { publicKeyOf } from '../client/keys.ts';
import { signDigestHex } from '../client/sign.ts';
import type { ProposalView, ResumeView } from '../client/types.ts';
import { checkCreationSignatures, eligibleKeys, missingRequirements, roundSigners, type SignerSig } from '../core/consensus/signing-rules.ts';
import type { Mode } from '../core/consensus/mode.ts';
import { resumeDigest, resumeObject } from '../core/consensus/resume.ts';
import type { Sha256 } from '../core/hash.ts';
import { createKeyParser, type PublicKey, type SignatureVerifier } from '../core/keys.ts';
import { nativeSha256 } from '../platform/sha256.ts';
import { createVerifier } from '../platform/verifier.ts';
import { fromHex, toHex } from '../core/hex.ts';
import { jcs, type JsonValue } from '../core/jcs.ts';
import type { ProgramRegistry } from '../core/programs/registry.ts';
import type { Program } from '../core/programs/types.ts';
import { buildGenesis } from '../core/replay.ts';
import { EMPTY_LIST_ROOT, parseRoundHeader, roundHash, ZERO_HASH_HEX, type RoundHeader } from '../core/round.ts';
import { SparseMerkleTree } from '../core/smt/tree.ts';
import { parseSubtreeRequest, subtreeId, subtreeProgram, type SubtreeSpec } from '../core/subtree-request.ts';
import { CachedNodeStore } from '../store/cached-node-store.ts';
import type { Database } from '../store/database.ts';
import { LibsqlNodeStore } from '../store/node-store.ts';
import { advanceReplica, getReplicaHead, recordSigned, signedAt } from '../store/replica.ts';
import { certificateFlaw, expireDigest, expireObject, parseCertificate } from '../core/consensus/expiry.ts';
import type { MultisigMode } from '../core/consensus/mode.ts';
import { getReplicaHalt, noteSightings, recordExpiryVote, recordReplicaHalt, sightingsAt } from '../store/replica-votes.ts';
import { modeAfter, verifyRound, type FetchedTx, type Mismatch, type ReplicaTip, type RoundVerdict } from './verify-round.ts';

/**
 * A co-signer (multisig signer or pos validator) as its own process: it follows one subtree
 * through the node's public API, keeps its own replica (tree nodes, values, verified head) in its
 * own libSQL database, re-executes every round with the shared pure core, and signs a proposal
 * only when the header's links and roots follow from its own execution. It refuses — and reports —
 * anything else. A final round that does not verify (bad roots, or signatures that do not meet
 * the mode) stops it: the node's history has left the log, and following it would be wrong.
 */

export type CosignEvent =
  | { type: 'ready'; subtree: string; signer: string; height: number }
  | { type: 'round'; height: number; hash: string; txCount: number }
  | { type: 'signed'; height: number; hash: string; status: number }
  | { type: 'refused'; height: number; hash: string; reason: string; mismatches: Mismatch[] }
  | { type: 'not_a_signer'; height: number; hash: string }
  | { type: 'sign_failed'; height: number; hash: string; code: string; detail: string }
  | { type: 'resume_signed'; halt: number; status: number }
  | { type: 'expiry_voted'; height: number; hash: string; reason: string; status: number }
  | { type: 'halted'; height: number; code: string; detail: string }
  | { type: 'fork'; height: number; reason: string; mismatches: Mismatch[] }
  | { type: 'error'; error: string };

export interface CosignerOptions {
  client: DstpClient;
  subtree: string;
  key: SigningKey;
  /** The replica's own database (e.g. `openDatabase({ url: 'file:./cosigner.db' })`). */
  db: Database;
  /** Sign the resume of a halted multisig subtree by itself (default false: an operator decides). */
  autoResume?: boolean;
  onEvent?: (e: CosignEvent) => void;
  now?: () => number;
  /** Parallel transaction fetches while verifying a round (default 16). */
  fetchConcurrency?: number;
  /** SHA-256 and signature verifier; default: the runtime's native ones (src/platform), as the node uses. */
  hash?: Sha256;
  verifier?: SignatureVerifier;
  /** The programs it can re-execute; default the native ones (kv, token). */
  programs?: ProgramRegistry;
}

/** The node served a final history that does not follow from its log: stop following it. */
export class ForkError extends Error {
  override readonly name = 'ForkError';
  constructor(
    readonly height: number,
    message: string,
    readonly mismatches: Mismatch[] = [],
  ) {
    super(message);
  }
}

export interface StepReport {
  height: number;
  status: string;
  signed?: string;
  refused?: string;
}

const VERIFIED_CACHE = 8;

export class Cosigner {
  readonly publicKey: string;
  readonly subtree: string;
  private readonly client: DstpClient;
  private readonly db: Database;
  private readonly key: SigningKey;
  private readonly hash: Sha256;
  private readonly now: () => number;
  private readonly emit: (e: CosignEvent) => void;
  private readonly store: CachedNodeStore;
  private readonly parseKey: (s: string) => PublicKey = createKeyParser();
  private readonly tree: SparseMerkleTree;
  private spec!: SubtreeSpec;
  private request!: JsonValue;
  private program!: Program;
  private config!: unknown;
  private tip!: ReplicaTip;
  /** The subtree's host key (round 0's proposer), the only sender of node calls (`sys_child`). */
  private host: string | undefined;
  /** Proposal hash → what this process did with it (a refused proposal is not re-checked). */
  private readonly handled = new Map<string, 'signed' | 'refused' | 'skipped'>();
  /** Proposals verified here, by hash: a round that turns final is applied without re-executing. */
  private readonly verified = new Map<string, Extract<RoundVerdict, { ok: true }>>();
  private readonly resumed = new Set<number>();
  /** Expiry votes the node has answered (a vote is sent once per process; it is durable anyway). */
  private readonly voted = new Set<string>();
  /** Whether the node serves `GET …/log` (else transactions are fetched one by one). */
  private logRoute = true;

  private constructor(
    private readonly opts: CosignerOptions,
    private readonly verifier: SignatureVerifier,
  ) {
    this.client = opts.client;
    this.subtree = opts.subtree;
    this.db = opts.db;
    this.key = opts.key;
    this.publicKey = publicKeyOf(opts.key);
    this.hash = opts.hash ?? nativeSha256();
    this.now = opts.now ?? Date.now;
    this.emit = opts.onEvent ?? (() => {});
    this.store = new CachedNodeStore(new LibsqlNodeStore(opts.db));
    this.tree = new SparseMerkleTree(this.store, { hash: this.hash });
  }

  /** Verifies the subtree's creation request and builds (or reopens) the replica at genesis. */
  static async open(opts: CosignerOptions): Promise<Cosigner> {
    const c = new Cosigner(opts, opts.verifier ?? (await createVerifier()));
    await c.init();
    return c;
  }

  /**
   * The co-signer's programs: `opts.programs` (natives by default) plus a user program (`js:<id>`,
   * SPEC §7.1) fetched from the node and checked against its id (node-programs.ts).
   */
  private userPrograms(): ProgramLibrary {
    return programsFromNode(this.client, { hash: this.hash, ...(this.opts.programs ? { base: this.opts.programs } : {}) });
  }

  get height(): number {
    return this.tip.height;
  }

  get root(): string {
    return this.tip.root;
  }

  private async init(): Promise<void> {
    const head = await this.client.getSubtree(this.subtree);
    const request = head.request as unknown as JsonValue;
    const programs = this.userPrograms();
    await programs.load((request as { subtree?: { program?: unknown } } | null)?.subtree?.program);
    const parsed = parseSubtreeRequest(request, programs);
    const spec = parsed.subtree;
    if (toHex(subtreeId(spec, this.hash)) !== this.subtree) throw new Error(`the node's creation request does not yield subtree id ${this.subtree}`);
    const check = checkCreationSignatures(spec, parsed.sigs, this.hash);
    if (!check.ok) throw new Error(`the creation request of ${this.subtree} lacks signatures its mode requires`);
    this.spec = spec;
    this.request = request;
    const { program, config } = subtreeProgram(spec, programs);
    this.program = program;
    this.config = config;

    const stored = await getReplicaHead(this.db, this.subtree);
    if (stored) {
      if (jcs(stored.request) !== jcs(request)) throw new Error(`the node now serves a different creation request for ${this.subtree} than this replica was built from`);
      this.tip = { subtree: this.subtree, network: spec.network, height: stored.height, root: stored.root, headHash: stored.headHash, nextSeq: stored.nextSeq };
      // The replica keeps only its latest header: round 0 (whose proposer is the host key) is asked
      // again, and checked to be this subtree's genesis round.
      const header = parseRoundHeader((await this.client.getRound(this.subtree, 0)).header);
      const want: Partial<RoundHeader> = { network: spec.network, subtree: this.subtree, height: 0, prev: ZERO_HASH_HEX, txCount: 0 };
      for (const [f, v] of Object.entries(want)) {
        if (header[f as keyof RoundHeader] !== v) throw new ForkError(0, `the genesis round's ${f} does not match the creation request`, [{ field: f, expected: v, got: header[f as keyof RoundHeader] }]);
      }
      this.host = header.proposer;
    } else {
      const g = await buildGenesis(this.tree, spec.genesis);
      const r0 = await this.client.getRound(this.subtree, 0);
      const header = parseRoundHeader(r0.header);
      const empty = toHex(EMPTY_LIST_ROOT);
      const want: Partial<RoundHeader> = { network: spec.network, subtree: this.subtree, height: 0, prev: ZERO_HASH_HEX, stateRoot: toHex(g.root), txRoot: empty, receiptsRoot: empty, txCount: 0 };
      for (const [f, v] of Object.entries(want)) {
        if (header[f as keyof RoundHeader] !== v) throw new ForkError(0, `the genesis round's ${f} does not match the creation request`, [{ field: f, expected: v, got: header[f as keyof RoundHeader] }]);
      }
      const headHash = toHex(roundHash(header, this.hash));
      this.host = header.proposer;
      await advanceReplica(this.db, {
        subtree: this.subtree,
        fromHeight: null,
        height: 0,
        root: header.stateRoot,
        headHash,
        header: header as unknown as JsonValue,
        nextSeq: 0,
        request,
        nodes: g,
        values: g.values,
        now: this.now(),
      });
      this.tip = { subtree: this.subtree, network: spec.network, height: 0, root: header.stateRoot, headHash, nextSeq: 0 };
    }
    this.emit({ type: 'ready', subtree: this.subtree, signer: this.publicKey, height: this.tip.height });
  }

  /**
   * One follow step: apply the node's new final rounds (each verified), then sign the open
   * proposal for the next height if it verifies — or sign the resume of a halted subtree when
   * `autoResume` is on. Throws ForkError when a final round does not verify.
   */
  async step(): Promise<StepReport> {
    const halt = await getReplicaHalt(this.db, this.subtree);
    if (halt) throw new ForkError(halt.height, `this co-signer stopped at height ${halt.height} (${halt.code}): ${halt.detail}`);
    // Both reads at once: a proposal listed for a height the replica has not reached yet is simply
    // not taken this step. Multisig needs every proposal at the next height (expired ones carry
    // their certificates), pos only the open one.
    const multisig = this.spec.mode.type === 'multisig';
    const [head, proposals] = await Promise.all([
      this.client.getSubtree(this.subtree),
      multisig ? this.client.listProposals(this.subtree, { cursor: this.tip.height, limit: 100 }) : this.client.listProposals(this.subtree, { status: 'open' }),
    ]);
    if (head.height === this.tip.height && head.headHash !== undefined && head.headHash !== this.tip.headHash) {
      // Two final headers at one height: keep both as evidence (this replica's header, and the
      // node's round with its signatures).
      const mine = (await getReplicaHead(this.db, this.subtree))?.header ?? null;
      const served = await this.client.getRound(this.subtree, this.tip.height).catch(() => null);
      await this.forkAt(this.tip.height, 'the node serves another final header at a height this replica holds final', {
        mine: { hash: this.tip.headHash, header: mine },
        served: { hash: String(head.headHash), round: served as unknown as JsonValue },
      });
    }
    while (this.tip.height < head.height) await this.applyFinal(this.tip.height + 1);
    if (head.status === 'halted') {
      if (this.opts.autoResume) await this.signResume();
      return { height: this.tip.height, status: 'halted' };
    }
    const atNext = proposals.items.filter((p) => p.height === this.tip.height + 1);
    const open = atNext.find((p) => p.status === 'open');
    if (!open) return { height: this.tip.height, status: 'idle' };
    const done = multisig ? await this.cosignMultisig(open, atNext) : await this.cosign(open);
    return { height: this.tip.height, status: done, ...(done === 'signed' ? { signed: open.hash } : done === 'refused' ? { refused: open.hash } : {}) };
  }

  /** Runs `step` every `intervalMs` until `signal` aborts; a ForkError ends the loop (rethrown). */
  async run(opts: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const interval = opts.intervalMs ?? 200;
    while (!opts.signal?.aborted) {
      try {
        await this.step();
      } catch (e) {
        if (e instanceof ForkError) throw e;
        this.emit({ type: 'error', error: e instanceof Error ? e.message : String(e) });
      }
      await sleep(interval, opts.signal);
    }
  }

  private async applyFinal(height: number): Promise<void> {
    const r = await this.client.getRound(this.subtree, height);
    const reported = r.hash ?? toHex(roundHash(parseRoundHeader(r.header), this.hash));
    let v = this.verified.get(reported);
    if (!v) {
      const verdict = await this.verify(r.header, reported, r.txs ?? []);
      if (!verdict.ok) {
        return this.forkAt(height, `final round ${height} does not follow from the log: ${verdict.reason}`, { round: r as unknown as JsonValue, mismatches: verdict.mismatches as unknown as JsonValue }, verdict.mismatches);
      }
      v = verdict;
    }
    if (!(await this.meetsRule(v.mode, v.hash, r.signatures))) {
      return this.forkAt(height, `round ${height} is served as final but its signatures do not meet the mode in force`, { round: r as unknown as JsonValue });
    }
    await advanceReplica(this.db, {
      subtree: this.subtree,
      fromHeight: this.tip.height,
      height,
      root: v.header.stateRoot,
      headHash: v.hash,
      header: v.header as unknown as JsonValue,
      nextSeq: this.tip.nextSeq + v.txs.length,
      request: this.request,
      nodes: v.step.nodes,
      values: v.step.values,
      now: this.now(),
    });
    this.store.remember(v.step.nodes, v.step.values);
    this.tip = { ...this.tip, height, root: v.header.stateRoot, headHash: v.hash, nextSeq: this.tip.nextSeq + v.txs.length };
    this.verified.clear();
    this.emit({ type: 'round', height, hash: v.hash, txCount: v.txs.length });
  }

  /** Whether valid signatures over `hash` by signers of `mode` meet its rule (checked with the native verifier). */
  private async meetsRule(mode: Mode, hash: string, sigs: readonly SignerSig[]): Promise<boolean> {
    const req = roundSigners(mode);
    const eligible = eligibleKeys([req]);
    const d = fromHex(hash, 32);
    const candidates = sigs.filter((s, i) => eligible.has(s.signer) && sigs.findIndex((x) => x.signer === s.signer) === i);
    const ok = await Promise.all(
      candidates.map((s) => this.verifier.verify(this.parseKey(s.signer), d, fromHex(s.sig, 64)).catch(() => false)),
    );
    return missingRequirements([req], new Set(candidates.filter((_, i) => ok[i]).map((s) => s.signer))).length === 0;
  }

  /**
   * Stops for good: records the halt and its evidence durably (a restart refuses to go on), emits
   * `fork`, and throws ForkError.
   */
  private async forkAt(height: number, detail: string, evidence: Record<string, JsonValue>, mismatches: Mismatch[] = []): Promise<never> {
    await recordReplicaHalt(this.db, { subtree: this.subtree, height, code: 'fork', detail, evidence, createdAt: this.now() });
    this.emit({ type: 'fork', height, reason: detail, mismatches });
    throw new ForkError(height, detail, mismatches);
  }

  /**
   * Multisig (SPEC §5): first sightings are noted durably; a proposal is signed only when it
   * verifies, this key never voted to expire it, and every OTHER header this key signed at the
   * height holds a valid expiry certificate (checked here, from the votes; the node's word that a
   * proposal expired counts for nothing). A proposal it refuses, or that stays un-final
   * `proposalTimeoutMs` after this process first saw it, gets its expiry vote — recorded durably
   * before it is sent, and never for a proposal this key signed.
   */
  private async cosignMultisig(p: ProposalView, atHeight: readonly ProposalView[]): Promise<'signed' | 'refused' | 'skipped'> {
    const mode = await modeAfter(this.tip, this.spec.mode, this.tree, this.store, this.hash);
    if (mode.type !== 'multisig' || !mode.signers.includes(this.publicKey)) {
      if (!this.handled.has(p.hash)) this.emit({ type: 'not_a_signer', height: p.height, hash: p.hash });
      return this.mark(p.hash, 'skipped');
    }
    const prior = this.handled.get(p.hash);
    if (prior === 'signed') return prior; // waits for the others; never votes against it
    // The first sighting is read here and written durably on every path that does not sign now
    // (a signed proposal is never voted against, so its sighting time no longer matters).
    let mine = (await sightingsAt(this.db, this.subtree, p.height)).get(p.hash);
    const firstSeen = mine?.firstSeen ?? this.now();
    const keepSighting = async () => {
      if (!mine) mine = (await noteSightings(this.db, this.subtree, p.height, [p.hash], firstSeen)).get(p.hash);
    };
    const signed = await signedAt(this.db, this.subtree, p.height);
    if (signed.includes(p.hash)) return this.mark(p.hash, 'signed');
    if (prior === 'refused') {
      await keepSighting();
      await this.voteExpiryIfDue(p, firstSeen, mode.proposalTimeoutMs, false, 'timeout');
      return prior;
    }
    // Every other header signed here must be expired by a certificate this process checks itself.
    for (const h of signed) {
      const listed = atHeight.find((x) => x.hash === h);
      const flaw = listed?.certificate === undefined ? 'the node shows no expiry certificate for it' : this.certificateProblem(listed.certificate, h, p.height, mode);
      if (flaw !== null) {
        this.emit({ type: 'refused', height: p.height, hash: p.hash, reason: `already signed header ${h} at this height, and it is not expired: ${flaw}`, mismatches: [{ field: 'certificate', expected: h, got: null }] });
        this.mark(p.hash, 'refused');
        await keepSighting();
        await this.voteExpiryIfDue(p, firstSeen, mode.proposalTimeoutMs, true, 'refused: signed another header at this height');
        return 'refused';
      }
    }
    const verdict = await this.verify(p.header, p.hash, p.txs);
    if (!verdict.ok) {
      this.emit({ type: 'refused', height: p.height, hash: p.hash, reason: verdict.reason, mismatches: verdict.mismatches });
      this.mark(p.hash, 'refused');
      await keepSighting();
      await this.voteExpiryIfDue(p, firstSeen, mode.proposalTimeoutMs, true, `refused: ${verdict.reason}`);
      return 'refused';
    }
    if (mine?.expirySig) {
      // It voted to expire this proposal (in an earlier run): it never signs it (SPEC §5).
      this.emit({ type: 'refused', height: p.height, hash: p.hash, reason: 'this key voted to expire this proposal; it never signs it', mismatches: [] });
      return this.mark(p.hash, 'refused');
    }
    const out = await this.signVerified(p, verdict);
    if (out !== 'signed') await keepSighting();
    return out;
  }

  private certificateProblem(cert: unknown, round: string, height: number, mode: MultisigMode): string | null {
    let parsed;
    try {
      parsed = parseCertificate(cert);
    } catch (e) {
      return `malformed certificate: ${e instanceof Error ? e.message : String(e)}`;
    }
    return certificateFlaw(parsed, { network: this.spec.network, subtree: this.subtree, height, round }, mode, this.hash);
  }

  /** Votes to expire `p` (now if `refused`, else once the timeout since first sighting passed); durable before it is sent. */
  private async voteExpiryIfDue(p: ProposalView, firstSeen: number, timeoutMs: number, refused: boolean, reason: string): Promise<void> {
    if (!refused && this.now() - firstSeen < timeoutMs) return;
    if ((await signedAt(this.db, this.subtree, p.height)).includes(p.hash)) return;
    const expire = expireObject({ network: this.spec.network, subtree: this.subtree, height: p.height, round: p.hash });
    const known = (await sightingsAt(this.db, this.subtree, p.height)).get(p.hash)?.expirySig;
    const sig = known ?? signDigestHex(this.key, expireDigest(expire, this.hash));
    if (!known) await recordExpiryVote(this.db, this.subtree, p.height, p.hash, sig, this.now());
    if (this.voted.has(p.hash)) return;
    try {
      const r = await this.client.addExpiryVote(this.subtree, p.height, { signer: this.publicKey, round: p.hash, sig });
      this.voted.add(p.hash);
      this.emit({ type: 'expiry_voted', height: p.height, hash: p.hash, reason, status: r.status });
    } catch (e) {
      if (!(e instanceof DstpHttpError) || e.status === 0 || e.status >= 500) throw e; // retried next step
      this.voted.add(p.hash);
      this.emit({ type: 'sign_failed', height: p.height, hash: p.hash, code: e.code, detail: e.detail });
    }
  }

  private async signVerified(p: ProposalView, verdict: Extract<RoundVerdict, { ok: true }>): Promise<'signed' | 'refused' | 'skipped'> {
    if (this.verified.size >= VERIFIED_CACHE) this.verified.clear();
    this.verified.set(verdict.hash, verdict);
    const sig = signDigestHex(this.key, fromHex(verdict.hash, 32));
    // Durable before it leaves the process: a restart must know what it signed.
    await recordSigned(this.db, this.subtree, p.height, verdict.hash, this.now());
    try {
      const r = await this.client.addRoundSignature(this.subtree, p.height, { signer: this.publicKey, sig });
      this.emit({ type: 'signed', height: p.height, hash: p.hash, status: r.status });
      return this.mark(p.hash, 'signed');
    } catch (e) {
      if (!(e instanceof DstpHttpError) || e.status === 0 || e.status >= 500) throw e; // retried next step
      this.emit({ type: 'sign_failed', height: p.height, hash: p.hash, code: e.code, detail: e.detail });
      return this.mark(p.hash, 'skipped');
    }
  }

  private async cosign(p: ProposalView): Promise<'signed' | 'refused' | 'skipped'> {
    const seen = this.handled.get(p.hash);
    if (seen) return seen;
    const mode = await modeAfter(this.tip, this.spec.mode, this.tree, this.store, this.hash);
    if (!eligibleKeys([roundSigners(mode)]).has(this.publicKey)) {
      this.emit({ type: 'not_a_signer', height: p.height, hash: p.hash });
      return this.mark(p.hash, 'skipped');
    }
    // pos: never two different headers at one height (that would be equivocation).
    const earlier = (await signedAt(this.db, this.subtree, p.height)).filter((h) => h !== p.hash);
    if (earlier.length > 0) {
      this.emit({ type: 'refused', height: p.height, hash: p.hash, reason: 'already signed another header at this height', mismatches: [{ field: 'hash', expected: earlier[0], got: p.hash }] });
      return this.mark(p.hash, 'refused');
    }
    const verdict = await this.verify(p.header, p.hash, p.txs);
    if (!verdict.ok) {
      this.emit({ type: 'refused', height: p.height, hash: p.hash, reason: verdict.reason, mismatches: verdict.mismatches });
      return this.mark(p.hash, 'refused');
    }
    return this.signVerified(p, verdict);
  }

  private mark(hash: string, what: 'signed' | 'refused' | 'skipped'): 'signed' | 'refused' | 'skipped' {
    if (this.handled.size > 1024) this.handled.clear();
    this.handled.set(hash, what);
    return what;
  }

  private async verify(header: unknown, hash: string, ids: readonly string[]): Promise<RoundVerdict> {
    let txs: FetchedTx[];
    try {
      txs = await this.fetchTxs(ids);
    } catch (e) {
      if (e instanceof DstpHttpError && e.status === 404) return { ok: false, reason: `a transaction of the round is unknown to the node: ${e.detail}`, mismatches: [] };
      throw e;
    }
    return verifyRound({
      tip: this.tip,
      creationMode: this.spec.mode,
      program: this.program,
      config: this.config,
      tree: this.tree,
      values: this.store,
      header,
      hash,
      txs,
      hash256: this.hash,
      verifier: this.verifier,
      parseKey: this.parseKey,
      ...(this.host !== undefined ? { host: this.host } : {}),
    });
  }

  /**
   * The round's transactions: the next `ids.length` entries of the log from the replica's next
   * seq, in pages (`GET …/log`), each paired with the id the round lists at that position. A node
   * without the log route is asked per transaction instead. Every entry is checked later anyway.
   */
  private async fetchTxs(ids: readonly string[]): Promise<FetchedTx[]> {
    if (ids.length === 0) return [];
    if (this.logRoute) {
      try {
        const out: FetchedTx[] = [];
        while (out.length < ids.length) {
          const page = await this.client.getLog(this.subtree, { from: this.tip.nextSeq + out.length, limit: Math.min(1000, ids.length - out.length) });
          if (page.items.length === 0) break;
          for (const e of page.items) out.push({ id: e.id, seq: e.seq, envelope: e.envelope });
        }
        if (ids.every((id, i) => out[i]?.id === id)) return out.slice(0, ids.length);
        // The round lists something other than the next log entries: fetch its own transactions,
        // whose seqs then tell verifyRound (and the operator) exactly where it departs from the log.
      } catch (e) {
        if (!(e instanceof DstpHttpError && e.status === 404 && e.code === 'not_found')) throw e;
        this.logRoute = false;
      }
    }
    return this.fetchEach(ids);
  }

  private async fetchEach(ids: readonly string[]): Promise<FetchedTx[]> {
    const out: FetchedTx[] = new Array(ids.length);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const i = next++;
        const t = await this.client.getTransaction(ids[i]!);
        out[i] = { id: ids[i]!, ...(t.seq !== undefined ? { seq: t.seq } : {}), ...(t.subtree !== undefined ? { subtree: t.subtree } : {}), envelope: t.envelope };
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.fetchConcurrency ?? 16, ids.length) }, worker));
    return out;
  }

  /** Signs the resume of the current halt (when this key is a signer and has not signed it yet). */
  async signResume(): Promise<{ status: number; view: ResumeView } | null> {
    // Automatic resumes never lift a halt caused by evidence (SPEC §5): an operator signs that one.
    const r = await signResume(this.client, this.subtree, this.key, { network: this.spec.network, height: this.tip.height, round: this.tip.headHash, hash: this.hash, evidence: false });
    if (r && !this.resumed.has(r.view.resume.halt)) {
      this.resumed.add(r.view.resume.halt);
      this.emit({ type: 'resume_signed', halt: r.view.resume.halt, status: r.status });
    }
    return r;
  }
}

/**
 * Signs and posts the resume of a halted multisig subtree with `key` (also `dstp resume`). The
 * resume object is rebuilt here from its parts and its digest computed locally: the node's
 * `digest` field is never what gets signed. Returns null when the subtree is not halted, this
 * key already signed, or (with `expect.evidence: false`) the halt was caused by evidence; throws when the node's resume object is not for this subtree (or, given
 * `expect`, not at the expected height).
 */
export async function signResume(
  client: DstpClient,
  subtree: string,
  key: SigningKey,
  expect: { network?: string; height?: number; round?: string; hash?: Sha256; evidence?: boolean } = {},
): Promise<{ status: number; view: ResumeView } | null> {
  let view: ResumeView;
  try {
    view = await client.getResume(subtree);
  } catch (e) {
    if (e instanceof DstpHttpError && e.code === 'subtree_not_halted') return null;
    throw e;
  }
  if (view.status !== 'halted') return null;
  const me = publicKeyOf(key);
  if (view.signatures.some((s) => s.signer === me)) return null;
  const r = view.resume;
  if (r.subtree !== subtree || r.action !== 'resume' || (expect.network !== undefined && r.network !== expect.network)) {
    throw new Error(`the node's resume object is not a resume of subtree ${subtree}`);
  }
  if (expect.height !== undefined && r.height !== expect.height) {
    throw new Error(`the resume object is at height ${r.height}, this replica at ${expect.height}`);
  }
  if (expect.evidence === false && r.evidence !== undefined) return null;
  if (expect.round !== undefined && r.round !== expect.round) {
    throw new Error(`the resume object names round ${r.round} at height ${r.height}; this replica's round there is ${expect.round}`);
  }
  const digest = resumeDigest(resumeObject(r), expect.hash);
  const out = await client.addResumeSignatures(subtree, [{ signer: me, sig: signDigestHex(key, digest) }]);
  return { status: out.status, view: out.resume };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
