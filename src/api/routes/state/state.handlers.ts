import type { RouteHandler } from '@hono/zod-openapi';
import type { StateReader } from '../../../services/get-state.ts';
import type { getStateRoute } from './state.routes.ts';

// The round header is stored JSON (written from a RoundHeader); the schema documents its fields.
export function getState(reader: StateReader): RouteHandler<typeof getStateRoute> {
  return async (c) => {
    const { id, key } = c.req.valid('param');
    const q = c.req.valid('query');
    const view = await reader.read(id, key, {
      ...(q.height !== undefined ? { height: q.height } : {}),
      ics23: q.format === 'ics23',
    });
    return c.json(view as never, 200);
  };
}
