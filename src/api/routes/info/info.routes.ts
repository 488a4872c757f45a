import { createRoute, z } from '@hono/zod-openapi';
import { PublicKeyString } from '../../schemas.ts';

export const NodeInfo = z
  .object({
    network: z.string().openapi({ description: 'Network id every signed object must name.', example: 'dstp-local' }),
    publicKey: PublicKeyString.openapi({ description: 'The node key: signs acceptances and the rounds it is the authority for.' }),
    origin: z.string().openapi({ description: 'Checkpoint origin (SPEC §9).' }),
    version: z.string(),
    programs: z.array(z.string()),
    modes: z.array(z.string()).openapi({ description: 'Security modes whose rounds this node runs.' }),
    limits: z.object({
      bodyBytes: z.number().int(),
      batchBodyBytes: z.number().int(),
      argsBytes: z.number().int(),
      batch: z.number().int(),
    }),
    follows: z
      .object({ syncing: z.number().int(), following: z.number().int(), halted: z.number().int() })
      .optional()
      .openapi({ description: 'Subtrees this node follows from other nodes (SPEC §12), by status.' }),
  })
  .openapi('NodeInfo');

export const getInfoRoute = createRoute({
  method: 'get',
  path: '/v1/info',
  tags: ['node'],
  summary: 'Network id, node public key, checkpoint origin, version',
  responses: { 200: { description: 'Node facts', content: { 'application/json': { schema: NodeInfo } } } },
});
