import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { getRoundVerb } from '../../../services/get-round.ts';
import { listRoundsVerb } from '../../../services/list-rounds.ts';
import { ROUND_PAGE } from '../../limits.ts';
import type { getRoundRoute, listRoundsRoute } from './rounds.routes.ts';

// Headers are stored as JSON (written from a RoundHeader); the schema documents their fields.
export function listRounds(ctx: NodeContext): RouteHandler<typeof listRoundsRoute> {
  return async (c) => {
    const q = c.req.valid('query');
    const page = await listRoundsVerb(ctx, c.req.valid('param').id, {
      limit: q.limit ?? ROUND_PAGE.default,
      order: q.order ?? 'asc',
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    return c.json(page as never, 200);
  };
}

export function getRound(ctx: NodeContext): RouteHandler<typeof getRoundRoute> {
  return async (c) => {
    const { id, height } = c.req.valid('param');
    return c.json((await getRoundVerb(ctx, id, height)) as never, 200);
  };
}
