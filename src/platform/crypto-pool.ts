import { DIGEST_BYTES, SIGNATURE_BYTES, type PublicKey, type SignatureVerifier } from '../core/keys.ts';
import type { NodeSigner } from './node-signer.ts';
import { SCHEME_CODES, SIGN_STRIDE, VERIFY_STRIDE, type PoolReply, type PoolRequest } from './crypto-pool-wire.ts';

/**
 * Signature checks and the node's own signatures on other cores. An accepted transaction costs
 * one ed25519 verification (~53 µs native) and one signed acceptance (~15 µs) — a quarter of the
 * accept path's CPU — and all of it used to run on the one thread that also serves HTTP, commits
 * the log and executes rounds. The pool moves that work to worker threads, packed: calls made in
 * the same event-loop turn travel as one message, so the serving thread pays a few µs per call.
 *
 * Answers are exactly the in-thread ones: each thread runs `createVerifier()` and
 * `createNodeSigner()` itself. If a thread fails, its jobs are answered in-thread by `fallback`
 * and the pool goes on without it: a signature check never turns into a 5xx.
 */
export interface CryptoPool {
  readonly verifier: SignatureVerifier;
  /** Present when the pool was given the node's secret key. */
  readonly signer: NodeSigner | null;
  readonly stats: { verified: number; signed: number; batches: number; fallback: number };
  /** Lets jobs in flight finish, then stops the threads; later calls run in-thread. */
  close(): Promise<void>;
}

export interface CryptoPoolOptions {
  threads: number;
  /** The node key: the threads sign with it. Null: the pool only verifies. */
  secret: Uint8Array | null;
  /** In-thread answers for when a thread fails or the pool is closed. */
  fallback: { verifier: SignatureVerifier; signer: NodeSigner | null };
  onThreadError?: (err: string) => void;
  /** Calls per message at most; a full batch leaves at once instead of at the end of the turn. */
  maxBatch?: number;
}

type Job<T> = { resolve: (v: T) => void; reject: (e: unknown) => void };
interface VerifyJob extends Job<boolean> {
  key: PublicKey;
  digest: Uint8Array;
  sig: Uint8Array;
}
interface SignJob extends Job<Uint8Array> {
  digest: Uint8Array;
}

interface Thread {
  worker: Worker;
  inFlight: number;
  alive: boolean;
  batches: Map<number, { kind: 'verify'; jobs: VerifyJob[] } | { kind: 'sign'; jobs: SignJob[] }>;
}

const DEFAULT_MAX_BATCH = 64;

/** Whether this runtime can run the pool (module workers): Bun and Deno; not Node 20 or Workers. */
export function cryptoPoolSupported(): boolean {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  return typeof Worker === 'function' && (g.Bun !== undefined || g.Deno !== undefined);
}

/** Starts `threads` workers; null when the runtime has no module workers or threads is 0. */
export function startCryptoPool(opts: CryptoPoolOptions): CryptoPool | null {
  if (opts.threads <= 0 || !cryptoPoolSupported()) return null;
  return new WorkerCryptoPool(opts);
}

class WorkerCryptoPool implements CryptoPool {
  readonly verifier: SignatureVerifier;
  readonly signer: NodeSigner | null;
  readonly stats = { verified: 0, signed: 0, batches: 0, fallback: 0 };
  private readonly pool: Thread[] = [];
  private readonly maxBatch: number;
  private verifyQueue: VerifyJob[] = [];
  private signQueue: SignJob[] = [];
  private flushScheduled = false;
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: CryptoPoolOptions) {
    this.maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
    for (let i = 0; i < opts.threads; i++) this.pool.push(this.spawn());
    const fb = opts.fallback;
    this.verifier = {
      name: `${fb.verifier.name} on ${opts.threads} thread${opts.threads === 1 ? '' : 's'}`,
      verify: (key, digest32, sig) => {
        // The same argument errors as the in-thread verifier (a rejected promise), decided here.
        if (digest32.length !== DIGEST_BYTES || sig.length !== SIGNATURE_BYTES) return this.fallbackVerify(key, digest32, sig);
        if (!this.usable()) {
          this.stats.fallback++;
          return this.fallbackVerify(key, digest32, sig);
        }
        return new Promise<boolean>((resolve, reject) => {
          this.verifyQueue.push({ resolve, reject, key, digest: digest32, sig });
          this.schedule(this.verifyQueue.length);
        });
      },
    };
    this.signer =
      opts.secret && fb.signer
        ? {
            publicKey: fb.signer.publicKey,
            native: fb.signer.native,
            sign: (digest32) => {
              if (digest32.length !== SIGN_STRIDE) return this.fallbackSign(digest32);
              if (!this.usable()) {
                this.stats.fallback++;
                return this.fallbackSign(digest32);
              }
              return new Promise<Uint8Array>((resolve, reject) => {
                this.signQueue.push({ resolve, reject, digest: digest32 });
                this.schedule(this.signQueue.length);
              });
            },
          }
        : null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // In-flight batches finish (or fall back when their thread dies); nothing new is sent.
    await Promise.all(this.pool.map((t) => this.whenIdle(t)));
    for (const t of this.pool) this.retire(t);
  }

  private usable(): boolean {
    return !this.closed && this.pool.some((t) => t.alive);
  }

  private spawn(): Thread {
    const worker = new Worker(new URL('./crypto-worker.ts', import.meta.url).href, { type: 'module' });
    const t: Thread = { worker, inFlight: 0, alive: true, batches: new Map() };
    (worker as Worker & { unref?: () => void }).unref?.();
    worker.onmessage = (e: MessageEvent<PoolReply>) => this.onReply(t, e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault?.();
      this.kill(t, e.message || 'crypto thread failed');
    };
    worker.addEventListener('messageerror', () => this.kill(t, 'crypto thread sent an unreadable message'));
    // A thread that exits on its own (its runtime died) answers nothing more.
    worker.addEventListener('close', () => this.kill(t, 'crypto thread exited'));
    const init: PoolRequest = { kind: 'init', secret: this.opts.secret ? this.opts.secret.slice() : null };
    worker.postMessage(init);
    return t;
  }

  private schedule(queued: number): void {
    if (queued >= this.maxBatch) {
      this.flush();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One macrotask: requests already read from their sockets join this batch.
    if (typeof setImmediate === 'function') setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), 0);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.verifyQueue.length > 0) {
      const jobs = this.verifyQueue;
      this.verifyQueue = [];
      this.send('verify', jobs);
    }
    if (this.signQueue.length > 0) {
      const jobs = this.signQueue;
      this.signQueue = [];
      this.send('sign', jobs);
    }
  }

  private send(kind: 'verify', jobs: VerifyJob[]): void;
  private send(kind: 'sign', jobs: SignJob[]): void;
  private send(kind: 'verify' | 'sign', jobs: VerifyJob[] | SignJob[]): void {
    const t = this.leastBusy();
    if (!t) {
      this.answerInThread(kind, jobs);
      return;
    }
    const n = jobs.length;
    let data: Uint8Array;
    if (kind === 'verify') {
      data = new Uint8Array(n * VERIFY_STRIDE);
      (jobs as VerifyJob[]).forEach((j, i) => {
        const o = i * VERIFY_STRIDE;
        data[o] = SCHEME_CODES.indexOf(j.key.scheme);
        data[o + 1] = j.key.bytes.length;
        data.set(j.key.bytes, o + 2);
        data.set(j.digest, o + 36);
        data.set(j.sig, o + 68);
      });
    } else {
      data = new Uint8Array(n * SIGN_STRIDE);
      (jobs as SignJob[]).forEach((j, i) => data.set(j.digest, i * SIGN_STRIDE));
    }
    const id = this.nextId++;
    t.batches.set(id, kind === 'verify' ? { kind, jobs: jobs as VerifyJob[] } : { kind, jobs: jobs as SignJob[] });
    t.inFlight += n;
    this.stats.batches++;
    const msg: PoolRequest = { kind, id, data, n };
    try {
      t.worker.postMessage(msg, [data.buffer]);
    } catch (err) {
      this.kill(t, String(err));
    }
  }

  private leastBusy(): Thread | undefined {
    let best: Thread | undefined;
    for (const t of this.pool) if (t.alive && (best === undefined || t.inFlight < best.inFlight)) best = t;
    return best;
  }

  private onReply(t: Thread, r: PoolReply): void {
    if (r.kind === 'failed') {
      this.kill(t, r.error);
      return;
    }
    const batch = t.batches.get(r.id);
    if (!batch) return;
    t.batches.delete(r.id);
    t.inFlight -= batch.jobs.length;
    if (r.kind === 'error') {
      this.opts.onThreadError?.(r.error);
      this.answerInThread(batch.kind, batch.jobs as VerifyJob[] & SignJob[]);
    } else if (batch.kind === 'verify') {
      batch.jobs.forEach((j, i) => j.resolve(r.out[i] === 1));
      this.stats.verified += batch.jobs.length;
    } else {
      batch.jobs.forEach((j, i) => j.resolve(r.out.slice(i * 64, i * 64 + 64)));
      this.stats.signed += batch.jobs.length;
    }
    this.notifyIdle(t);
  }

  /** Takes a thread out of service; whatever it still owed is answered in-thread. */
  private kill(t: Thread, why: string): void {
    if (!t.alive) return;
    t.alive = false;
    if (!this.closed) this.opts.onThreadError?.(why);
    const owed = [...t.batches.values()];
    t.batches.clear();
    t.inFlight = 0;
    for (const b of owed) this.answerInThread(b.kind, b.jobs as VerifyJob[] & SignJob[]);
    this.notifyIdle(t);
    this.retire(t);
  }

  private retire(t: Thread): void {
    t.alive = false;
    try {
      t.worker.terminate();
    } catch {
      // already gone
    }
  }

  private answerInThread(kind: 'verify' | 'sign', jobs: VerifyJob[] | SignJob[]): void {
    this.stats.fallback += jobs.length;
    if (kind === 'verify') {
      for (const j of jobs as VerifyJob[]) this.fallbackVerify(j.key, j.digest, j.sig).then(j.resolve, j.reject);
    } else {
      for (const j of jobs as SignJob[]) this.fallbackSign(j.digest).then(j.resolve, j.reject);
    }
  }

  private fallbackVerify(key: PublicKey, digest: Uint8Array, sig: Uint8Array): Promise<boolean> {
    return this.opts.fallback.verifier.verify(key, digest, sig);
  }

  private fallbackSign(digest: Uint8Array): Promise<Uint8Array> {
    const s = this.opts.fallback.signer;
    return s ? s.sign(digest) : Promise.reject(new Error('crypto pool has no signing key'));
  }

  private readonly idleWaiters = new Map<Thread, (() => void)[]>();

  private whenIdle(t: Thread): Promise<void> {
    if (!t.alive || t.batches.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.idleWaiters.get(t) ?? [];
      list.push(resolve);
      this.idleWaiters.set(t, list);
    });
  }

  private notifyIdle(t: Thread): void {
    if (t.alive && t.batches.size > 0) return;
    const list = this.idleWaiters.get(t);
    if (!list) return;
    this.idleWaiters.delete(t);
    for (const r of list) r();
  }
}
