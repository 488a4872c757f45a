import type { JsonValue } from '../core/jcs.ts';
import { nonceKey } from '../core/programs/common.ts';
import type { SubtreeRequest } from '../core/subtree-request.ts';
import type { TxEnvelope } from '../core/tx.ts';
import { publicKeyOf, type SigningKey } from './keys.ts';
import { signTransaction } from './sign.ts';
import type {
  BatchItemResult,
  EvidenceAccepted,
  FollowView,
  LogEntry,
  NodeInfo,
  Page,
  ProposalView,
  ResumeView,
  RoundResponse,
  SignerSig,
  StateResponse,
  SubmitResult,
  SubtreeHead,
  TransactionStatus,
} from './types.ts';

/** An RFC 9457 problem body; `extra` fields (e.g. `expected` for nonce_mismatch) stay on it. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail: string;
  code: string;
  [field: string]: unknown;
}

/**
 * A non-2xx answer (or no answer at all: status 0, code `unreachable`). It carries the node's
 * problem+json body so callers can branch on the stable `code` and read extra fields.
 */
export class DstpHttpError extends Error {
  override readonly name = 'DstpHttpError';
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly problem: Problem,
    options?: { cause?: unknown },
  ) {
    super(`${method} ${url}: ${problem.status || 'no response'} ${problem.code}: ${problem.detail}`, options);
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
  }
}

export class DstpTimeoutError extends Error {
  override readonly name = 'DstpTimeoutError';
  constructor(
    readonly id: string,
    readonly waitedMs: number,
    readonly last: TransactionStatus | undefined,
  ) {
    super(`transaction ${id} not executed after ${waitedMs} ms (last status: ${last?.status ?? 'unknown'})`);
  }
}

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8787` (with or without a trailing slash; `/v1` is added). */
  baseUrl: string;
  /** Injected fetch (tests, proxies, runtimes without a global one). */
  fetch?: FetchLike;
  /** Sent as `Authorization: Bearer …` on management calls and subtree creation. */
  adminToken?: string;
}

export interface WaitOptions {
  timeoutMs?: number;
  /** First polling interval; it grows by half each time up to `maxIntervalMs`. */
  intervalMs?: number;
  maxIntervalMs?: number;
}

export interface SendOptions {
  subtree: string;
  key: SigningKey;
  call: string;
  args: Record<string, JsonValue>;
  /** Defaults to the node's network (from `info()`). */
  network?: string;
  /**
   * The nonce to sign with, used exactly: a 409 `nonce_mismatch` is thrown (its `problem.expected`
   * is the node's next nonce), never silently replaced. Without it, `nextNonce` is asked and a 409
   * corrects it (see `send`).
   */
  nonce?: number;
}

export interface SendResult extends SubmitResult {
  nonce: number;
  envelope: TxEnvelope;
}

/** The part of `fetch` the client uses, so any compatible function can be injected. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Nonce corrections `send` makes before giving up (concurrent senders of one key could race). */
const SEND_ATTEMPTS = 4;

type Query = Record<string, string | number | undefined>;

/**
 * HTTP client for a dstp node (SPEC §11). Uses only `fetch`, so it runs in browsers, Workers,
 * Bun, Deno and Node. It does not verify what the node says: see `verify.ts` for that.
 */
export class DstpClient {
  readonly baseUrl: string;
  private readonly fetchFn: FetchLike;
  private readonly adminToken: string | undefined;
  private infoCache: Promise<NodeInfo> | undefined;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    // Bound to globalThis: some runtimes throw "Illegal invocation" for a detached fetch.
    this.fetchFn = opts.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.adminToken = opts.adminToken;
  }

  /** `GET /v1/info`, fetched once per client (network id and node key do not change). */
  info(): Promise<NodeInfo> {
    this.infoCache ??= this.request<NodeInfo>('GET', '/v1/info').catch((e) => {
      this.infoCache = undefined;
      throw e;
    });
    return this.infoCache;
  }

  async createSubtree(body: SubtreeRequest): Promise<SubtreeHead> {
    return this.request<SubtreeHead>('POST', '/v1/subtrees', { body, admin: true });
  }

  getSubtree(id: string): Promise<SubtreeHead> {
    return this.request<SubtreeHead>('GET', `/v1/subtrees/${seg(id)}`);
  }

  listSubtrees(page: { cursor?: string | number; limit?: number } = {}): Promise<Page<SubtreeHead>> {
    return this.request<Page<SubtreeHead>>('GET', '/v1/subtrees', { query: { cursor: page.cursor, limit: page.limit } });
  }

  /** POST /v1/programs (SPEC §7.1): stores a user program; the admin token is sent when configured. */
  async uploadProgram(source: string): Promise<{ id: string; engine: string }> {
    return this.request<{ id: string; engine: string }>('POST', '/v1/programs', { body: { source }, admin: true });
  }

  /** GET /v1/programs/:id: a stored user program. Check its id against its source before use. */
  async getProgram(id: string): Promise<{ id: string; engine: string; source: string }> {
    return this.request<{ id: string; engine: string; source: string }>('GET', `/v1/programs/${seg(id)}`);
  }

  async submit(envelope: TxEnvelope): Promise<SubmitResult> {
    const { status, body } = await this.exchange<Omit<SubmitResult, 'status'>>('POST', '/v1/transactions', { body: envelope });
    return { ...body, status: status as 200 | 202 };
  }

  async submitBatch(envelopes: readonly TxEnvelope[]): Promise<{ status: 200 | 202; items: BatchItemResult[] }> {
    const { status, body } = await this.exchange<{ items: BatchItemResult[] }>('POST', '/v1/transactions/batch', {
      body: { txs: envelopes },
    });
    return { status: status as 200 | 202, items: body.items };
  }

  getTransaction(id: string): Promise<TransactionStatus> {
    return this.request<TransactionStatus>('GET', `/v1/transactions/${seg(id)}`);
  }

  /**
   * Polls until the transaction leaves `pending` (executed or failed — a failed transaction has
   * still been executed and consumed its nonce). Throws DstpTimeoutError after `timeoutMs`.
   */
  async waitForExecution(id: string, opts: WaitOptions = {}): Promise<TransactionStatus> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const maxInterval = opts.maxIntervalMs ?? 1_000;
    let interval = opts.intervalMs ?? 50;
    const start = Date.now();
    let last: TransactionStatus | undefined;
    for (;;) {
      last = await this.getTransaction(id);
      if (last.status !== 'pending') return last;
      const left = timeoutMs - (Date.now() - start);
      if (left <= 0) throw new DstpTimeoutError(id, Date.now() - start, last);
      await sleep(Math.min(interval, left));
      interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
    }
  }

  getState(subtree: string, key: string, opts: { height?: number; format?: 'ics23' } = {}): Promise<StateResponse> {
    return this.request<StateResponse>('GET', `/v1/subtrees/${seg(subtree)}/state/${seg(key)}`, {
      query: { height: opts.height, format: opts.format },
    });
  }

  getRound(subtree: string, height: number): Promise<RoundResponse> {
    return this.request<RoundResponse>('GET', `/v1/subtrees/${seg(subtree)}/rounds/${height}`);
  }

  listRounds(
    subtree: string,
    page: { cursor?: string | number; limit?: number; order?: 'asc' | 'desc' } = {},
  ): Promise<Page<RoundResponse>> {
    return this.request<Page<RoundResponse>>('GET', `/v1/subtrees/${seg(subtree)}/rounds`, {
      query: { cursor: page.cursor, limit: page.limit, order: page.order },
    });
  }

  /** `GET …/log`: accepted transactions in log order from `from` (what replicas re-execute). */
  getLog(subtree: string, page: { from?: number; limit?: number } = {}): Promise<Page<LogEntry>> {
    return this.request<Page<LogEntry>>('GET', `/v1/subtrees/${seg(subtree)}/log`, { query: { from: page.from, limit: page.limit } });
  }

  /** `GET …/proposals`: rounds waiting for (or done with) co-signatures, by height. */
  listProposals(
    subtree: string,
    page: { status?: 'open' | 'final' | 'expired'; cursor?: string | number; limit?: number } = {},
  ): Promise<Page<ProposalView>> {
    return this.request<Page<ProposalView>>('GET', `/v1/subtrees/${seg(subtree)}/proposals`, {
      query: { status: page.status, cursor: page.cursor, limit: page.limit },
    });
  }

  /** `POST …/rounds/:height/signatures`: 201 made the round final, 202 recorded, 200 known. */
  async addRoundSignature(subtree: string, height: number, signature: SignerSig): Promise<{ status: 200 | 201 | 202; proposal: ProposalView }> {
    const { status, body } = await this.exchange<ProposalView>('POST', `/v1/subtrees/${seg(subtree)}/rounds/${height}/signatures`, { body: signature });
    return { status: status as 200 | 201 | 202, proposal: body };
  }

  /** `POST …/rounds/:height/expiries`: a multisig expiry vote; 201 completed a certificate, 202 recorded, 200 known. */
  async addExpiryVote(subtree: string, height: number, vote: { signer: string; round: string; sig: string }): Promise<{ status: 200 | 201 | 202; body: Record<string, unknown> }> {
    const { status, body } = await this.exchange<Record<string, unknown>>('POST', `/v1/subtrees/${seg(subtree)}/rounds/${height}/expiries`, { body: vote });
    return { status: status as 200 | 201 | 202, body };
  }

  /** `GET …/resume`: the resume object of a halted multisig subtree's latest halt. */
  getResume(subtree: string): Promise<ResumeView> {
    return this.request<ResumeView>('GET', `/v1/subtrees/${seg(subtree)}/resume`);
  }

  /** `POST …/resume`: 200 once the threshold signed (active again), 202 while more are needed. */
  async addResumeSignatures(subtree: string, sigs: readonly SignerSig[]): Promise<{ status: 200 | 202; resume: ResumeView }> {
    const { status, body } = await this.exchange<ResumeView>('POST', `/v1/subtrees/${seg(subtree)}/resume`, { body: { sigs } });
    return { status: status as 200 | 202, resume: body };
  }

  /** `POST /v1/evidence`: equivocation evidence against a pos validator (202 with the slash transaction). */
  submitEvidence(evidence: unknown): Promise<EvidenceAccepted> {
    return this.request<EvidenceAccepted>('POST', '/v1/evidence', { body: evidence });
  }

  /** `POST /v1/follows` (admin): follow a subtree hosted on `origin` (SPEC §12). */
  follow(origin: string, subtree: string, verify?: 'full' | 'headers'): Promise<FollowView> {
    return this.request<FollowView>('POST', '/v1/follows', { body: { origin, subtree, ...(verify ? { verify } : {}) }, admin: true });
  }

  listFollows(page: { cursor?: string; limit?: number } = {}): Promise<Page<FollowView>> {
    return this.request<Page<FollowView>>('GET', '/v1/follows', { query: { cursor: page.cursor, limit: page.limit } });
  }

  getFollow(subtree: string): Promise<FollowView> {
    return this.request<FollowView>('GET', `/v1/follows/${seg(subtree)}`);
  }

  /** `DELETE /v1/follows/:subtree` (admin): stop following and drop the replica. */
  async unfollow(subtree: string): Promise<void> {
    await this.request<unknown>('DELETE', `/v1/follows/${seg(subtree)}`, { admin: true });
  }

  /**
   * The sender's next nonce after the latest executed round (`sys/nonce/<sender>`, 0 if absent).
   * Transactions accepted but not yet executed also consume nonces, so this can be behind;
   * `send` corrects it from the node's 409 answer.
   */
  async nextNonce(subtree: string, sender: string): Promise<number> {
    const state = await this.getState(subtree, nonceKey(sender));
    if (!state.exists || state.value === undefined || state.value === null) return 0;
    if (typeof state.value !== 'number' || !Number.isSafeInteger(state.value) || state.value < 0) {
      throw new TypeError(`node returned a malformed nonce for ${sender}: ${JSON.stringify(state.value)}`);
    }
    return state.value;
  }

  /**
   * Signs and submits a NEW call. Without an explicit nonce it starts from `nextNonce`, which lags
   * behind accepted-but-unexecuted transactions, and corrects itself: a 409 `nonce_mismatch`
   * carries the nonce the node expects (through a follower: its origin's, inside a 502); a 200 means an identical transaction already holds that
   * nonce (same id, deduplicated), so the next nonce is tried. With an explicit nonce the answer
   * is returned as is, including 200 for a resubmission (idempotent retry).
   */
  async send(opts: SendOptions): Promise<SendResult> {
    const network = opts.network ?? (await this.info()).network;
    const sign = (nonce: number) =>
      signTransaction({ network, subtree: opts.subtree, key: opts.key, nonce, call: opts.call, args: opts.args }).envelope;
    const explicit = opts.nonce !== undefined;
    let nonce = opts.nonce ?? (await this.nextNonce(opts.subtree, publicKeyOf(opts.key)));
    for (let attempt = 0; ; attempt++) {
      const envelope = sign(nonce);
      try {
        const result = await this.submit(envelope);
        if (result.status === 200 && !explicit && attempt < SEND_ATTEMPTS) {
          nonce += 1;
          continue;
        }
        return { ...result, nonce, envelope };
      } catch (e) {
        const expected = e instanceof DstpHttpError ? expectedNonce(e) : undefined;
        if (explicit || typeof expected !== 'number' || expected === nonce || attempt >= SEND_ATTEMPTS) throw e;
        nonce = expected;
      }
    }
  }

  private async request<T>(method: string, path: string, opts: { body?: unknown; admin?: boolean; query?: Query } = {}): Promise<T> {
    return (await this.exchange<T>(method, path, opts)).body;
  }

  private async exchange<T>(
    method: string,
    path: string,
    opts: { body?: unknown; admin?: boolean; query?: Query } = {},
  ): Promise<{ status: number; body: T }> {
    const url = this.baseUrl + path + queryString(opts.query);
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.admin && this.adminToken) headers.authorization = `Bearer ${this.adminToken}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new DstpHttpError(method, url, { status: 0, code: 'unreachable', detail }, { cause });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) throw new DstpHttpError(method, url, asProblem(res, body, text));
    if (body === undefined && res.status !== 204) {
      throw new DstpHttpError(method, url, { status: res.status, code: 'invalid_response', detail: `expected a JSON body, got ${snippet(text)}` });
    }
    return { status: res.status, body: body as T };
  }
}

/**
 * The nonce a refusal names: the node's `409 nonce_mismatch`, or the origin's, carried by a
 * follower's `502 origin_bad_answer` as `originProblem` (SPEC §12 forwarding).
 */
function expectedNonce(e: DstpHttpError): unknown {
  if (e.code === 'nonce_mismatch') return e.problem.expected;
  const origin = (e.problem as { originProblem?: { code?: unknown; expected?: unknown } }).originProblem;
  return e.code === 'origin_bad_answer' && origin?.code === 'nonce_mismatch' ? origin.expected : undefined;
}

/** Path segment: state keys hold `/` and `:`, which must not split or reshape the path. */
function seg(s: string): string {
  return encodeURIComponent(s);
}

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

function asProblem(res: Response, body: unknown, text: string): Problem {
  if (body !== null && typeof body === 'object' && typeof (body as Problem).code === 'string') {
    const p = body as Problem;
    return { ...p, status: typeof p.status === 'number' ? p.status : res.status, detail: String(p.detail ?? p.title ?? '') };
  }
  return { status: res.status, code: `http_${res.status}`, detail: res.statusText || snippet(text) };
}

function snippet(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || '(empty)';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
