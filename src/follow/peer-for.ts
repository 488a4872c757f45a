import { ApiError } from '../api/problem.ts';
import { PeerClient, PeerError } from '../peers/peer-client.ts';
import type { NodeContext } from '../services/context.ts';

/** One PeerClient per origin and context (its guard caches DNS verdicts). */
const clients = new WeakMap<NodeContext, Map<string, PeerClient>>();

export function peerFor(ctx: NodeContext, origin: string): PeerClient {
  let m = clients.get(ctx);
  if (!m) clients.set(ctx, (m = new Map()));
  let c = m.get(origin);
  if (!c) {
    c = new PeerClient(origin, { allowPrivate: ctx.config.peerAllowPrivate, timeoutMs: ctx.config.peerTimeoutMs });
    if (m.size > 1000) m.clear();
    m.set(origin, c);
  }
  return c;
}

/** A peer failure as the API reports it to a caller of this node. */
export function peerProblem(e: unknown, what: string): ApiError {
  if (!(e instanceof PeerError)) throw e;
  switch (e.kind) {
    case 'not_allowed':
      return new ApiError('peer_not_allowed', `${what}: ${e.message} (set DSTP_PEER_ALLOW_PRIVATE=true to allow private origins)`);
    case 'unreachable':
      return new ApiError('origin_unreachable', `${what}: ${e.message}`);
    case 'not_found':
      return new ApiError('unknown_subtree', `${what}: the origin answers 404 (${e.code ?? 'not found'})`);
    case 'bad_answer':
      return new ApiError('origin_bad_answer', `${what}: ${e.message}`);
  }
}
