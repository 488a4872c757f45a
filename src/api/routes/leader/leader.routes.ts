import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, problems } from '../../schemas.ts';

export const PassReport = z
  .object({
    leader: z.boolean().openapi({ description: 'Whether this node held the leader lease for the pass.' }),
    token: z.number().int().optional().openapi({ description: 'Lease fencing token.' }),
    rounds: z.array(
      z.object({
        subtree: Hex32,
        height: z.number().int(),
        hash: Hex32,
        txCount: z.number().int(),
        failed: z.number().int(),
        stateRoot: Hex32,
        status: z.enum(['final', 'proposed']).openapi({ description: '`proposed` when the round waits for an outside authority\'s signature.' }),
      }),
    ),
    skipped: z.array(z.object({ subtree: Hex32, reason: z.string() })),
    leaseLost: z.boolean().optional(),
  })
  .openapi('LeaderPass');

export const tickRoute = createRoute({
  method: 'post',
  path: '/v1/leader/tick',
  tags: ['leader'],
  summary: 'Run one leader pass now (admin token)',
  description: 'For hosts without a scheduler. Needs `Authorization: Bearer <admin token>`; no body.',
  security: [{ adminToken: [] }],
  responses: {
    200: { description: 'What the pass did', content: { 'application/json': { schema: PassReport } } },
    ...problems(401, 415),
  },
});
