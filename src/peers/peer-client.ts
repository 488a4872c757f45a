import { CLIENT_ADDRESS_HEADER } from '../api/middleware/rate-limit.ts';
import { createParser } from 'eventsource-parser';
import type { z } from '@hono/zod-openapi';
import { NodeInfo } from '../api/routes/info/info.routes.ts';
import { LogPage } from '../api/routes/log/log.routes.ts';
import { ProgramView } from '../api/routes/programs/programs.routes.ts';
import { RoundPage } from '../api/routes/rounds/rounds.routes.ts';
import { StateView } from '../api/routes/state/state.routes.ts';
import { Round, SubtreeHead } from '../api/schemas.ts';
import { readCapped } from '../platform/read-capped.ts';
import { createTargetGuard, parseWebhookUrl, WebhookUrlError, type TargetGuard } from '../webhooks/target-guard.ts';

/**
 * The one HTTP client for other nodes (SPEC §12). Everything a peer sends is untrusted input:
 * every request has a deadline, every body a size cap, every JSON answer is parsed with the same
 * zod schema as this node's own response of that route, and anything else becomes a PeerError.
 * The SSRF guard of webhooks (src/webhooks/target-guard.ts) judges each origin before each request.
 */

export type PeerErrorKind =
  /** Transport trouble: connection refused, timeout, 5xx. Retried with back-off. */
  | 'unreachable'
  /** An answer that is not what the route answers: wrong status, malformed, oversized. Retried. */
  | 'bad_answer'
  /** The peer says the thing does not exist (404). */
  | 'not_found'
  /** The origin's address is refused by the guard (private, loopback, …) or is not a URL. */
  | 'not_allowed';

export class PeerError extends Error {
  override readonly name = 'PeerError';
  constructor(
    readonly kind: PeerErrorKind,
    message: string,
    readonly status = 0,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface PeerOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  /** Largest answer read (bytes); default 16 MiB. */
  maxBytes?: number;
  guard?: TargetGuard;
}

export const PEER_MAX_BYTES = 16 * 1024 * 1024;

export type PeerInfo = z.infer<typeof NodeInfo>;
export type PeerHead = z.infer<typeof SubtreeHead>;
export type PeerRound = z.infer<typeof Round>;
export type PeerLogPage = z.infer<typeof LogPage>;
export type PeerState = z.infer<typeof StateView>;
export type PeerProgram = z.infer<typeof ProgramView>;

/** A raw answer of a forwarded call: status and the JSON body as sent. */
export interface PeerAnswer {
  status: number;
  body: unknown;
  contentType: string;
}

/** Normalizes an origin URL: http(s), no credentials or fragment, no trailing slash. */
export function parseOrigin(raw: string): string {
  try {
    const u = parseWebhookUrl(raw);
    if (u.search !== '') throw new WebhookUrlError('invalid_webhook_url', 'an origin has no query');
    return u.toString().replace(/\/+$/, '');
  } catch (e) {
    throw new PeerError('not_allowed', `origin is not acceptable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export class PeerClient {
  readonly origin: string;
  private readonly guard: TargetGuard;
  private readonly maxBytes: number;

  constructor(
    origin: string,
    private readonly opts: PeerOptions,
  ) {
    this.origin = parseOrigin(origin);
    this.guard = opts.guard ?? createTargetGuard({ allowPrivate: opts.allowPrivate });
    this.maxBytes = opts.maxBytes ?? PEER_MAX_BYTES;
  }

  info(): Promise<PeerInfo> {
    return this.getJson('/v1/info', NodeInfo);
  }

  subtree(id: string): Promise<PeerHead> {
    return this.getJson(`/v1/subtrees/${id}`, SubtreeHead);
  }

  round(id: string, height: number): Promise<PeerRound> {
    return this.getJson(`/v1/subtrees/${id}/rounds/${height}`, Round);
  }

  /** Final rounds after `after`, ascending. */
  rounds(id: string, after: number, limit: number): Promise<z.infer<typeof RoundPage>> {
    return this.getJson(`/v1/subtrees/${id}/rounds?cursor=${after}&limit=${limit}&order=asc`, RoundPage);
  }

  /** A state answer (value + proof + signed round) at final round `height`. */
  state(id: string, key: string, height: number): Promise<PeerState> {
    return this.getJson(`/v1/subtrees/${id}/state/${encodeURIComponent(key)}?height=${height}`, StateView);
  }

  /** A user program (SPEC §7.1); the caller checks that its id is the digest of engine and source. */
  program(id: string): Promise<PeerProgram> {
    return this.getJson(`/v1/programs/${id}`, ProgramView);
  }

  log(id: string, from: number, limit: number): Promise<PeerLogPage> {
    return this.getJson(`/v1/subtrees/${id}/log?from=${from}&limit=${limit}`, LogPage);
  }

  /**
   * Sends a JSON body as it came and returns the peer's answer unparsed (the caller judges it).
   * `client` is the address of the client this node forwards for (`dstp-client-address`).
   */
  async forward(method: 'POST' | 'GET', path: string, body?: string, client?: string): Promise<PeerAnswer> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (client !== undefined) headers[CLIENT_ADDRESS_HEADER] = client;
    const res = await this.send(path, { method, ...(body !== undefined ? { body } : {}), headers });
    const text = await this.readText(res);
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PeerError('bad_answer', `${path}: the answer is not JSON (status ${res.status})`, res.status);
    }
    return { status: res.status, body: parsed, contentType };
  }

  /**
   * Final rounds from the peer's event stream — a subtree's (`GET …/subtrees/:id/events`, from
   * `from` on, else from after its head) or, with `id` null, the node's (`GET /v1/events`, from
   * now) — until `signal` aborts or the stream ends. Each round is parsed with the Round schema;
   * a malformed one ends the stream with a PeerError (the caller polls instead).
   */
  async *events(id: string | null, from: number | undefined, signal: AbortSignal): AsyncGenerator<PeerRound> {
    const path = id === null ? '/v1/events' : `/v1/subtrees/${id}/events${from !== undefined ? `?from=${from}` : ''}`;
    const res = await this.send(path, { method: 'GET', headers: { accept: 'text/event-stream' } }, signal, false);
    if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw new PeerError(res.status >= 500 ? 'unreachable' : 'bad_answer', `events: status ${res.status}`, res.status);
    }
    const queue: string[] = [];
    let failed: PeerError | null = null;
    const parser = createParser({
      onEvent: (e) => {
        if (e.event === 'round') queue.push(e.data);
      },
      onError: (e) => {
        failed = new PeerError('bad_answer', `events: ${e.message}`);
      },
      maxBufferSize: this.maxBytes,
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const stop = () => void reader.cancel().catch(() => {});
    signal.addEventListener('abort', stop, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || signal.aborted) return;
        parser.feed(value);
        if (failed) throw failed;
        while (queue.length > 0) {
          const raw = queue.shift()!;
          let json: unknown;
          try {
            json = JSON.parse(raw);
          } catch {
            throw new PeerError('bad_answer', 'events: a round is not JSON');
          }
          const r = Round.safeParse(json);
          if (!r.success) throw new PeerError('bad_answer', `events: a round is malformed: ${r.error.issues[0]?.message ?? ''}`);
          yield r.data;
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      stop();
    }
  }

  private async getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
    const res = await this.send(path, { method: 'GET' });
    const text = await this.readText(res);
    if (res.status === 404) {
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { code?: string }).code;
      } catch {
        // not a problem body: still a 404
      }
      throw new PeerError('not_found', `${path}: not found (${code ?? 'no code'})`, 404, code);
    }
    if (res.status !== 200) throw new PeerError('bad_answer', `${path}: status ${res.status}`, res.status);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PeerError('bad_answer', `${path}: the answer is not JSON`, res.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new PeerError('bad_answer', `${path}: malformed answer (${i ? `${i.path.join('.')}: ${i.message}` : 'schema'})`, res.status);
    }
    return parsed.data;
  }

  /** One request with the guard, a deadline (covering the whole body read unless `streaming`), and 5xx as `unreachable`. */
  private async send(path: string, init: RequestInit, signal?: AbortSignal, bounded = true): Promise<Response> {
    const url = new URL(this.origin + path);
    try {
      await this.guard.check(url);
    } catch (e) {
      throw new PeerError('not_allowed', e instanceof Error ? e.message : String(e));
    }
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const signals = [...(bounded ? [timeout] : []), ...(signal ? [signal] : [])];
    let res: Response;
    try {
      // Connecting is bounded even for streams: the stream's own signal only stops reading.
      res = await Promise.race([
        fetch(url, { ...init, redirect: 'manual', ...(signals.length ? { signal: AbortSignal.any(signals) } : {}) }),
        new Promise<never>((_, reject) => timeout.addEventListener('abort', () => reject(new Error('timeout')), { once: true })),
      ]);
    } catch (e) {
      throw new PeerError('unreachable', `${this.origin}${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (res.status >= 500) {
      await res.body?.cancel().catch(() => {});
      throw new PeerError('unreachable', `${path}: status ${res.status}`, res.status);
    }
    return res;
  }

  /** Reads a body up to the size cap; an over-long or interrupted body is an error, never a partial answer. */
  private async readText(res: Response): Promise<string> {
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw new PeerError('bad_answer', `answer of ${declared} bytes exceeds ${this.maxBytes}`, res.status);
    }
    if (!res.body) return '';
    const read = await readCapped(res.body, this.maxBytes);
    if (read.kind === 'too_large') throw new PeerError('bad_answer', `answer exceeds ${this.maxBytes} bytes`, res.status);
    if (read.kind === 'aborted') throw new PeerError('unreachable', `reading the answer failed: ${read.error}`, res.status);
    return new TextDecoder('utf-8', { fatal: false }).decode(read.bytes);
  }
}
