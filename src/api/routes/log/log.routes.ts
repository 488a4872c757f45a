import { createRoute, z } from '@hono/zod-openapi';
import { LOG_PAGE } from '../../../services/list-log.ts';
import { Hex32, IdParams, JsonAny, limitQuery, problems, uintString } from '../../schemas.ts';

export const LogEntry = z
  .object({
    seq: z.number().int().openapi({ description: 'Position in the subtree\'s log (= execution order).' }),
    id: Hex32,
    status: z.enum(['pending', 'executed', 'failed']),
    envelope: JsonAny.openapi({ description: 'The transaction `{tx, sig}` as received.' }),
  })
  .openapi('LogEntry');

export const LogPage = z.object({ items: z.array(LogEntry), next: z.string().optional() }).openapi('LogPage');

export const listLogRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/log',
  tags: ['transactions'],
  summary: 'The subtree\'s transaction log in order (paged by seq)',
  description: 'What co-signers and auditors replay. Each entry can be checked alone: `id = digest("tx", tx)` and the sender\'s signature.',
  request: {
    params: IdParams,
    query: z.strictObject({
      from: uintString().optional().openapi({ description: 'First `seq` (default 0); the `next` of the previous page.' }),
      limit: limitQuery(LOG_PAGE.default, LOG_PAGE.max),
    }),
  },
  responses: {
    200: {
      description: 'A page of the log',
      content: { 'application/json': { schema: LogPage } },
    },
    ...problems(400, 404),
  },
});
