/**
 * Concurrent senders: each sends sequential transfers (nonce 0, 1, 2, …) and records every
 * acknowledgement (202/200 with its signed acceptance). A network error either stops the sender
 * (the node is gone and the outcome of that request is unknown) or, with `retryOnError`, sends the
 * SAME signed transaction to another live node — idempotent by id, so it can never run twice.
 */
import type { KeyPair } from '../../src/client/index.ts';
import { http, transfer, waitStopped, type NodeProc } from './harness.ts';
import type { Ack } from './ledger.ts';

export interface LoadOptions {
  subtree: string;
  senders: readonly KeyPair[];
  /** Live node URLs; read on every request so a test can change it while the load runs. */
  targets: () => readonly string[];
  until: () => boolean;
  amountFor: (sender: number, nonce: number) => string;
  recipientFor: (sender: number, nonce: number) => string;
  retryOnError?: boolean;
  /** While `targets()` is empty, wait (a node is restarting) instead of stopping the sender. */
  waitForTargets?: boolean;
  /** Hard bound per sender, whatever the clock says. */
  maxPerSender?: number;
  timeoutMs?: number;
  /** Updated live: requests sent and not yet answered (for a test that must crash a node mid-request). */
  live?: { inFlight: number };
}

export interface LoadResult {
  acks: Ack[];
  /** Requests whose outcome is unknown (connection broke or timed out). */
  unknown: { id: string; sender: string; nonce: number; error: string }[];
  /** Answers a correct node must never give to this load (e.g. 409, 5xx). */
  unexpected: { status: number; body: unknown }[];
  /** Transactions refused by admission (409 with `admission`), each retried a few times. */
  refused: number;
  sent: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const out: LoadResult = { acks: [], unknown: [], unexpected: [], refused: 0, sent: 0 };
  const max = o.maxPerSender ?? 100_000;
  await Promise.all(
    o.senders.map(async (key, i) => {
      let robin = i;
      for (let nonce = 0; nonce < max && !o.until(); ) {
        const { id, envelope } = transfer(o.subtree, key, nonce, o.recipientFor(i, nonce), o.amountFor(i, nonce));
        let acked = false;
        for (let attempt = 0; attempt < 8 && !acked; attempt++) {
          let targets = o.targets();
          for (let w = 0; targets.length === 0 && o.waitForTargets && !o.until() && w < 3000; w++) {
            await Bun.sleep(10);
            targets = o.targets();
          }
          if (targets.length === 0) return;
          const base = targets[robin++ % targets.length]!;
          out.sent++;
          let res;
          if (o.live) o.live.inFlight++;
          try {
            res = await http(base, 'POST', '/v1/transactions', { json: envelope, timeoutMs: o.timeoutMs ?? 5000 }).finally(() => {
              if (o.live) o.live.inFlight--;
            });
          } catch (err) {
            out.unknown.push({ id, sender: key.publicKey, nonce, error: String(err) });
            if (!o.retryOnError) return;
            await Bun.sleep(20);
            continue;
          }
          if (res.status === 202 || res.status === 200) {
            const b = res.body as { id: string; accept: Ack['accept']; sig: string };
            if (b.id !== id) out.unexpected.push({ status: res.status, body: res.body });
            out.acks.push({ id, sender: key.publicKey, nonce, status: res.status, accept: b.accept, sig: b.sig });
            acked = true;
          } else if (res.status === 409 && (res.body as { admission?: boolean }).admission === true) {
            // Refused at the door (it cannot succeed yet): nonce unused; a credit may still come.
            out.refused++;
            await Bun.sleep(20);
          } else {
            out.unexpected.push({ status: res.status, body: res.body });
            return;
          }
        }
        if (!acked) return;
        nonce++;
      }
    }),
  );
  return out;
}

/**
 * Resolves once at least `n` requests are in flight (sent moments ago, so the node is still
 * working on some of them): a kill right after cuts requests mid-way. Senders move in step with
 * group commit, and a kill timed by the clock alone can land while every answer is already sent.
 */
export async function requestsInFlight(live: { inFlight: number }, n: number, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (live.inFlight < n) {
    if (performance.now() > deadline) throw new Error(`fewer than ${n} requests in flight for ${timeoutMs} ms (now ${live.inFlight})`);
    await Bun.sleep(0);
  }
}

/**
 * SIGKILLs a node while requests to it are in flight. A plain SIGKILL races the last responses:
 * the requests counted in flight can all be answered before the signal lands, and a kill that
 * cuts nothing proves nothing about a crash. So the node is frozen first (SIGSTOP: the instant
 * of the crash, wherever its threads are), responses already on the wire get a moment to arrive,
 * and it is killed only if requests are still waiting; otherwise it runs on and the next attempt
 * comes. `beforeKill` runs while the node is frozen, just before the kill (a test stops its load
 * there).
 */
export async function killWithRequestsInFlight(node: NodeProc, live: { inFlight: number }, n: number, beforeKill: () => void = () => {}): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await requestsInFlight(live, n);
    node.proc.kill('SIGSTOP');
    await waitStopped(node.pid);
    await Bun.sleep(20);
    if (live.inFlight > 0) {
      beforeKill();
      await node.kill9();
      return;
    }
    node.proc.kill('SIGCONT');
  }
  throw new Error('no request stayed in flight across 20 freezes of the node');
}

/**
 * A sender outside the load whose transfers guarantee pending work at the moments a test needs it
 * (an idle node does not take the lease). Each `send` must be accepted (202); `acks` keeps them.
 */
export function prober(subtree: string, key: KeyPair, to: string): { send(url: string): Promise<Ack>; acks: Ack[] } {
  const acks: Ack[] = [];
  return {
    acks,
    async send(url) {
      const nonce = acks.length;
      const t = transfer(subtree, key, nonce, to, '1');
      const r = await http(url, 'POST', '/v1/transactions', { json: t.envelope });
      if (r.status !== 202) throw new Error(`probe transfer ${nonce}: ${r.status} ${JSON.stringify(r.body)}`);
      const ack: Ack = { id: t.id, sender: key.publicKey, nonce, status: r.status, accept: r.body.accept, sig: r.body.sig };
      acks.push(ack);
      return ack;
    },
  };
}
