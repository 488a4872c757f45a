import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../../config.ts';
import { problem } from '../problem.ts';
import { TokenBuckets } from '../token-buckets.ts';

/**
 * What a runtime entry point passes as the request's env: the socket's peer address (Bun's
 * `server.requestIP`, Node's `incoming.socket`, Deno's `info.remoteAddr`). Absent where the
 * runtime has no socket to show (Workers: Cloudflare sets `cf-connecting-ip`).
 */
export interface RequestEnv {
  clientAddress?: string;
}

/** The header in which a trusted forwarding peer (SPEC §12) names the client it forwards for. */
export const CLIENT_ADDRESS_HEADER = 'dstp-client-address';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface WriteLimits {
  clients: TokenBuckets | null;
  peers: TokenBuckets | null;
  /** Per (subtree, sender), taken by the accept verb once a transaction's signature checked out. */
  senders: TokenBuckets | null;
}

/** Buckets hold twice the rate: a client may burst to 2× for a second, then keeps to the rate. */
export function writeLimits(config: Config, now: () => number): WriteLimits {
  const buckets = (rate: number | null) => (rate === null ? null : new TokenBuckets(rate, 2 * rate, now));
  return { clients: buckets(config.rateLimit), peers: buckets(config.peerRateLimit), senders: buckets(config.senderRateLimit) };
}

interface Client {
  address: string | undefined;
  /** The trusted peer that forwarded the request, if any. */
  peer?: string;
}

/** Per request: the write limiter and the transaction routes both ask. */
const clients = new WeakMap<Context, Client>();

/**
 * The client a request counts against, and the trusted peer that forwarded it, if any. The
 * socket address counts unless `DSTP_TRUST_PROXY` names the header the proxy in front sets
 * (for `x-forwarded-for`, the last entry: the one that proxy appended itself).
 */
export function clientOf(c: Context, config: Config): Client {
  let who = clients.get(c);
  if (who === undefined) {
    who = findClient(c, config);
    clients.set(c, who);
  }
  return who;
}

function findClient(c: Context, config: Config): Client {
  let address = (c.env as RequestEnv | undefined)?.clientAddress ?? c.req.header('cf-connecting-ip');
  if (config.trustProxy) {
    const v = c.req.header(config.trustProxy);
    const last = v?.split(',').pop()?.trim();
    if (last) address = last;
  }
  const named = c.req.header(CLIENT_ADDRESS_HEADER)?.trim();
  if (named && address !== undefined && config.trustedPeers.includes(address)) return { address: named, peer: address };
  return { address };
}

/** Write routes only: 429 `rate_limited` with Retry-After, before the body is even read. */
export function rateLimit(config: Config, limits: WriteLimits): MiddlewareHandler {
  return async (c, next) => {
    if (!WRITE_METHODS.has(c.req.method) || (!limits.clients && !limits.peers)) return next();
    const who = clientOf(c, config);
    if (who.peer !== undefined && limits.peers) {
      const wait = limits.peers.take(who.peer);
      if (wait > 0) return limited(c, wait, `peer ${who.peer} is over its limit of ${config.peerRateLimit} write requests/s`);
    }
    // A request whose client the node cannot see (no socket, no proxy header) is not counted per
    // client: lumping all of them into one bucket would let one client starve the others.
    if (limits.clients && who.address !== undefined) {
      const wait = limits.clients.take(who.address);
      if (wait > 0) return limited(c, wait, `client ${who.address} is over its limit of ${config.rateLimit} write requests/s`);
    }
    return next();
  };
}

function limited(c: Context, retryAfterS: number, detail: string): Response {
  const res = problem(c, 'rate_limited', detail, { retryAfter: retryAfterS });
  res.headers.set('retry-after', String(retryAfterS));
  return res;
}
