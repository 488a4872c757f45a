import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, IdParams, JsonAny, Proof, RoundHeader, RoundSignature, StateKey, problems, uintString } from '../../schemas.ts';

export const StateView = z
  .object({
    subtree: Hex32,
    key: z.string(),
    exists: z.boolean(),
    value: JsonAny.optional().openapi({ description: 'Present iff `exists`.' }),
    height: z.number().int().openapi({ description: 'Final round the answer is read at.' }),
    root: Hex32.openapi({ description: 'State root after that round; `proof` folds to it.' }),
    proof: Proof,
    roundHash: Hex32.openapi({ description: '`digest("round", round.header)`.' }),
    round: z
      .object({ header: RoundHeader, signatures: z.array(RoundSignature) })
      .openapi({ description: 'The signed round: `header.stateRoot == root`, signatures over `roundHash`.' }),
    ics23: z
      .object({
        proof: z.string().openapi({ description: 'Protobuf `CommitmentProof` (hex) with one existence proof.' }),
        spec: z.literal('smt'),
        key: z.string().openapi({ description: 'hex of `path(key)`: the key to pass to `verifyMembership`.' }),
        value: z.string().openapi({ description: 'hex of `jcs(value)`: the value to pass to `verifyMembership`.' }),
      })
      .optional(),
  })
  .openapi('State');

export const StateParams = z.strictObject({ id: IdParams.shape.id, key: StateKey });

export const StateQuery = z.strictObject({
  height: uintString().optional().openapi({ description: 'Read at this past final round (default: the latest).' } as never),
  format: z.enum(['json', 'ics23']).optional().openapi({ description: '`ics23` adds an ICS-23 existence proof (present keys only).' }),
});

/** Documented with `{key}`; served with a wildcard so keys may hold `/` unencoded (see app.ts). */
export const getStateRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/state/{key}',
  tags: ['state'],
  summary: 'A value with its proof, root and signed round',
  description:
    'Everything a client needs to verify the answer alone: fold `proof` (SPEC §4) to `root`, check `round.header.stateRoot == root`, ' +
    '`roundHash == digest("round", round.header)` and the signatures against the subtree\'s mode. An absent key is answered ' +
    'with `exists: false` and an exclusion proof. `?format=ics23` on an absent key is `400 ics23_exclusion_unsupported`.',
  request: { params: StateParams, query: StateQuery },
  responses: {
    200: { description: 'The value (or its absence) with proofs', content: { 'application/json': { schema: StateView } } },
    ...problems(400, 404),
  },
});
