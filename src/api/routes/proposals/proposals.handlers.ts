import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { recordExpiry } from '../../../services/expire-proposals.ts';
import { addRoundSignature, listProposals as listProposalsVerb } from '../../../services/round-signatures.ts';
import { ROUND_PAGE } from '../../limits.ts';
import type { addExpiryRoute, addSignatureRoute, listProposalsRoute } from './proposals.routes.ts';

// Headers are stored JSON (written from a RoundHeader); the schemas document their fields.
export function listProposals(ctx: NodeContext): RouteHandler<typeof listProposalsRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listProposalsVerb(ctx, c.req.valid('param').id, {
      limit: q.limit ?? ROUND_PAGE.default,
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    // Cursors are opaque strings on every list of the API.
    return c.json({ items: page.items, ...(page.next !== undefined ? { next: String(page.next) } : {}) } as never, 200);
  };
}

export function addSignature(ctx: NodeContext): RouteHandler<typeof addSignatureRoute> {
  return async (c) => {
    const { id, height } = c.req.valid('param');
    const out = await addRoundSignature(ctx, id, height, c.req.valid('json'));
    return c.json(out.body as never, out.status);
  };
}

export function addExpiry(ctx: NodeContext): RouteHandler<typeof addExpiryRoute> {
  return async (c) => {
    const { id, height } = c.req.valid('param');
    const out = await recordExpiry(ctx, id, height, c.req.valid('json'));
    return c.json(out.body as never, out.status);
  };
}
