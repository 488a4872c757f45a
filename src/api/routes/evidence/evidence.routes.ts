import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, PublicKeyString, RoundHeader, jsonBody, problems } from '../../schemas.ts';

const SignedHeaderDoc = z.object({ header: RoundHeader, sig: z.string().regex(/^[0-9a-f]{128}$/) }).strict();

export const EvidenceDoc = z
  .object({ validator: PublicKeyString, a: SignedHeaderDoc, b: SignedHeaderDoc })
  .strict()
  .openapi('Evidence', { description: 'Two different round headers of one subtree and height, each signed by `validator` over its round hash.' });

export const EvidenceView = z
  .object({
    id: Hex32.openapi({ description: '`digest("evidence", {v, network, subtree, height, validator, rounds})`, rounds ascending.' }),
    subtree: Hex32,
    validator: PublicKeyString,
    height: z.number().int(),
    tx: Hex32.openapi({ description: 'The `slash` transaction appended to the subtree\'s log; the next round executes it.' }),
    createdAt: z.number().int(),
  })
  .openapi('EvidenceAccepted');

export const postEvidenceRoute = createRoute({
  method: 'post',
  path: '/v1/evidence',
  tags: ['subtrees'],
  summary: 'Submit equivocation evidence against a pos validator',
  description:
    'Verified in full (`400 invalid_evidence` naming what fails); then a `slash` transaction carrying it is appended to the ' +
    'subtree\'s log, and the next round burns the configured share of the validator\'s stake and removes it from the set. ' +
    'The same evidence again is `409 evidence_known`; other evidence against a validator already slashed is `409 already_slashed`.',
  request: { body: jsonBody('Evidence', 'Two conflicting signed headers.') },
  responses: {
    202: { description: 'Accepted; the slash transaction is in the log', content: { 'application/json': { schema: EvidenceView } } },
    ...problems(400, 404, 409, 413, 415),
  },
});
