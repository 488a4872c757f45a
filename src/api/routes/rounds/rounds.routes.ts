import { createRoute, z } from '@hono/zod-openapi';
import { ROUND_PAGE } from '../../limits.ts';
import { IdHeightParams, IdParams, Round, limitQuery, problems, uintString } from '../../schemas.ts';

export const RoundPage = z.object({ items: z.array(Round), next: z.string().optional() }).openapi('RoundPage');

export const listRoundsRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/rounds',
  tags: ['rounds'],
  summary: 'Rounds of a subtree by height (paged)',
  request: {
    params: IdParams,
    query: z.strictObject({
      limit: limitQuery(ROUND_PAGE.default, ROUND_PAGE.max),
      cursor: uintString().optional().openapi({ description: 'The `next` of the previous page (a height).' } as never),
      order: z.enum(['asc', 'desc']).optional().openapi({ description: 'By height; default `asc` (genesis first).' }),
    }),
  },
  responses: {
    200: {
      description: 'A page of rounds',
      content: { 'application/json': { schema: RoundPage } },
    },
    ...problems(400, 404),
  },
});

export const getRoundRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/rounds/{height}',
  tags: ['rounds'],
  summary: 'One round: header, hash, signatures, transaction ids',
  request: { params: IdHeightParams },
  responses: {
    200: { description: 'The round', content: { 'application/json': { schema: Round } } },
    ...problems(400, 404),
  },
});
