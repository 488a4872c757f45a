/**
 * A real webhook receiver for tests: Bun.serve on 127.0.0.1, verifying EVERY delivery with the
 * `standardwebhooks` library (not our code) and deduplicating by `webhook-id`, as a careful
 * receiver would. Its behaviour can be switched at any time: answer 2xx, fail with a status, hang,
 * answer slowly, or be down (port closed).
 */
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  type: string;
  timestamp: string;
  data: any;
  /** webhook-timestamp header (unix seconds). */
  sentAt: number;
  /** performance.now() at arrival. */
  arrivedAt: number;
}

/** What to do with a request that verified: a number = answer that status after `delayMs`. */
export type Behaviour =
  | { kind: 'status'; status: number; delayMs?: number; body?: string; headers?: Record<string, string> }
  | { kind: 'hang' }
  | ((n: number, id: string) => { status: number; delayMs?: number; body?: string; headers?: Record<string, string> });

export interface Receiver {
  url: string;
  port: number;
  /** Secrets the receiver accepts (either one verifies: rotation). */
  secrets: string[];
  behaviour: Behaviour;
  /** First arrival of each webhook-id that was answered 2xx, in order. */
  accepted: Received[];
  acceptedIds: Set<string>;
  /** Requests answered 2xx for an id already accepted (redeliveries the receiver dropped). */
  duplicates: number;
  /** Every request that reached the handler. */
  requests: number;
  /** Requests whose signature did not verify (must stay 0). */
  verifyFailures: { error: string; headers: Record<string, string> }[];
  /** Highest number of requests in the handler at once. */
  maxConcurrent: number;
  /** All webhook-ids seen, with how many times each arrived. */
  seen: Map<string, number>;
  /** The distinct bodies each webhook-id arrived with (one per id: retries resend the same bytes). */
  bodies: Map<string, Set<string>>;
  /** Resolves hanging requests (they then answer 200 — too late for the node's deadline). */
  releaseHung(): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  /** Waits until `pred()` holds (polling), at most `timeoutMs`. */
  until(pred: () => boolean, timeoutMs: number, what?: string): Promise<void>;
}

export async function startReceiver(opts: { secrets?: string[]; behaviour?: Behaviour; port?: number } = {}): Promise<Receiver> {
  let server: ReturnType<typeof Bun.serve> | null = null;
  let hung: (() => void)[] = [];
  let current = 0;
  const r: Receiver = {
    url: '',
    port: 0,
    secrets: opts.secrets ?? [],
    behaviour: opts.behaviour ?? { kind: 'status', status: 204 },
    accepted: [],
    acceptedIds: new Set(),
    duplicates: 0,
    requests: 0,
    verifyFailures: [],
    maxConcurrent: 0,
    seen: new Map(),
    bodies: new Map(),
    releaseHung() {
      const h = hung;
      hung = [];
      for (const f of h) f();
    },
    async down() {
      r.releaseHung();
      await server?.stop(true);
      server = null;
    },
    async up() {
      if (!server) server = serve(r.port);
    },
    async close() {
      await r.down();
    },
    async until(pred, timeoutMs, what = 'condition') {
      const end = performance.now() + timeoutMs;
      while (!pred()) {
        if (performance.now() > end) throw new Error(`receiver: timed out after ${timeoutMs} ms waiting for ${what}`);
        await Bun.sleep(10);
      }
    },
  };

  const handle = async (req: Request): Promise<Response> => {
    const arrivedAt = performance.now();
    r.requests++;
    current++;
    r.maxConcurrent = Math.max(r.maxConcurrent, current);
    try {
      const body = await req.text();
      const headers = Object.fromEntries(req.headers.entries());
      let payload: any = undefined;
      let lastErr = 'no secret configured';
      for (const s of r.secrets) {
        try {
          payload = new Webhook(s).verify(body, headers);
          break;
        } catch (err) {
          lastErr = String(err);
        }
      }
      if (payload === undefined) {
        r.verifyFailures.push({ error: lastErr, headers });
        return new Response('bad signature', { status: 400 });
      }
      const id = headers['webhook-id']!;
      r.seen.set(id, (r.seen.get(id) ?? 0) + 1);
      if (!r.bodies.has(id)) r.bodies.set(id, new Set());
      r.bodies.get(id)!.add(body);
      const b = r.behaviour;
      let answer: { status: number; delayMs?: number; body?: string; headers?: Record<string, string> };
      if (typeof b === 'function') answer = b(r.requests, id);
      else if (b.kind === 'hang') {
        // Released later with a 200: the receiver did process it, whether or not the sender was
        // still waiting for the answer (if not, the redelivery is a duplicate to drop).
        await new Promise<void>((res) => hung.push(res));
        answer = { status: 200, body: 'late' };
      } else answer = b;
      if (answer.delayMs) await Bun.sleep(answer.delayMs);
      if (answer.status >= 200 && answer.status < 300) {
        if (r.acceptedIds.has(id)) r.duplicates++;
        else {
          r.acceptedIds.add(id);
          r.accepted.push({ id, type: payload.type, timestamp: payload.timestamp, data: payload.data, sentAt: Number(headers['webhook-timestamp']), arrivedAt });
        }
      }
      return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers ?? {} });
    } finally {
      current--;
    }
  };

  const serve = (port: number) => Bun.serve({ port, hostname: '127.0.0.1', fetch: handle, idleTimeout: 30 });
  server = serve(opts.port ?? 0);
  r.port = server.port!;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  return r;
}

/** Polls `pred` (async) until true or the deadline passes. */
export async function waitFor(pred: () => Promise<boolean> | boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}
