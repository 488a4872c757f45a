import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, JsonAny, PublicKeyString, limitQuery, problems } from '../../schemas.ts';

export const FOLLOW_PAGE = { default: 50, max: 200 } as const;

export const FollowBody = z
  .strictObject({
    origin: z.string().min(1).max(2048).openapi({ description: 'Base URL of the node hosting the subtree.', example: 'https://node-a.example' }),
    subtree: Hex32,
    verify: z.enum(['full', 'headers']).optional().openapi({ description: 'Default `full` (a replica that re-executes every round); `headers` is a light follow: links and finality only, no state or log (SPEC §12).' }),
  })
  .openapi('FollowRequest');

export const Follow = z
  .object({
    subtree: Hex32,
    origin: z.string(),
    verify: z.enum(['full', 'headers']),
    status: z.enum(['syncing', 'following', 'halted']),
    height: z.number().int().openapi({ description: 'Last round verified here (served up to it).' }),
    originHeight: z.number().int().openapi({ description: 'Latest final round the origin showed.' }),
    verifiedFrom: z.number().int().openapi({ description: 'First round verified fully (0: from genesis).' }),
    originKey: PublicKeyString.openapi({ description: 'The origin\'s node key, pinned when the follow began: forwarded acceptances must verify against it.' }),
    halt: z
      .object({
        code: z.enum(['bad_request', 'bad_link', 'bad_signature', 'bad_tx', 'root_mismatch', 'log_rewritten', 'fork']),
        detail: z.string(),
        evidence: JsonAny.openapi({ description: 'The offending signed data as the origin served it.' }),
      })
      .optional(),
  })
  .openapi('Follow');

const SubtreeParam = z.strictObject({
  subtree: Hex32.openapi({ param: { name: 'subtree', in: 'path', description: 'Followed subtree id.' } }),
});

export const createFollowRoute = createRoute({
  method: 'post',
  path: '/v1/follows',
  tags: ['follows'],
  summary: 'Follow a subtree hosted on another node (admin)',
  description:
    'Checks the origin (allowed address, same network, hosts the subtree), the creation request and round 0, then keeps a verified replica. A creation request that does not verify starts the follow `halted` (`bad_request`).',
  security: [{ adminToken: [] }],
  request: { body: { required: true, content: { 'application/json': { schema: FollowBody } } } },
  responses: {
    201: { description: 'Following', content: { 'application/json': { schema: Follow } } },
    200: { description: 'Already followed from this origin', content: { 'application/json': { schema: Follow } } },
    ...problems(400, 401, 404, 409, 415),
    422: problems(422)[422]!,
  },
});

export const listFollowsRoute = createRoute({
  method: 'get',
  path: '/v1/follows',
  tags: ['follows'],
  summary: 'Subtrees this node follows',
  request: {
    query: z.strictObject({
      limit: limitQuery(FOLLOW_PAGE.default, FOLLOW_PAGE.max),
      cursor: Hex32.optional().openapi({ description: 'The `next` of the previous page.' }),
    }),
  },
  responses: {
    200: { description: 'A page of follows', content: { 'application/json': { schema: z.object({ items: z.array(Follow), next: z.string().optional() }).openapi('FollowPage') } } },
    ...problems(400),
  },
});

export const getFollowRoute = createRoute({
  method: 'get',
  path: '/v1/follows/{subtree}',
  tags: ['follows'],
  summary: 'One follow: status, heights, halt',
  request: { params: SubtreeParam },
  responses: {
    200: { description: 'The follow', content: { 'application/json': { schema: Follow } } },
    ...problems(400, 404),
  },
});

export const deleteFollowRoute = createRoute({
  method: 'delete',
  path: '/v1/follows/{subtree}',
  tags: ['follows'],
  summary: 'Stop following and drop the replica (admin)',
  security: [{ adminToken: [] }],
  request: { params: SubtreeParam },
  responses: {
    204: { description: 'Dropped' },
    ...problems(400, 401, 404),
  },
});
