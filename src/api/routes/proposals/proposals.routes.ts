import { createRoute, z } from '@hono/zod-openapi';
import { ROUND_PAGE } from '../../limits.ts';
import { Hex32, IdHeightParams, IdParams, PublicKeyString, RoundHeader, RoundSignature, jsonBody, limitQuery, problems, uintString } from '../../schemas.ts';

export const ProposalView = z
  .object({
    hash: Hex32.openapi({ description: '`digest("round", header)`: what signers sign.' }),
    height: z.number().int(),
    header: RoundHeader,
    txs: z.array(Hex32),
    signatures: z.array(RoundSignature),
    status: z.enum(['open', 'final', 'expired']),
    createdAt: z.number().int(),
    signers: z.array(PublicKeyString).openapi({ description: 'Keys whose signatures count toward finality under the subtree\'s mode.' }),
  })
  .openapi('Proposal');

export const RoundSignatureRequestDoc = z
  .object({
    signer: PublicKeyString,
    sig: z.string().regex(/^[0-9a-f]{128}$/).openapi({ description: 'Signature over the proposal hash (32 bytes, as the message/digest).' }),
  })
  .strict()
  .openapi('RoundSignatureRequest');

export const listProposalsRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/proposals',
  tags: ['rounds'],
  summary: 'Proposed rounds waiting for (or done with) co-signatures',
  description: 'Rounds of subtrees whose authority or signers are outside the node. Co-signers re-execute the transactions before signing.',
  request: {
    params: IdParams,
    query: z.strictObject({
      status: z.enum(['open', 'final', 'expired']).optional().openapi({ description: 'Only proposals in this state (default: all).' }),
      limit: limitQuery(ROUND_PAGE.default, ROUND_PAGE.max),
      cursor: uintString().optional().openapi({ description: 'The `next` of the previous page.' }),
    }),
  },
  responses: {
    200: {
      description: 'A page of proposals',
      content: { 'application/json': { schema: z.object({ items: z.array(ProposalView), next: z.string().optional() }).openapi('ProposalPage') } },
    },
    ...problems(400, 404),
  },
});

export const addSignatureRoute = createRoute({
  method: 'post',
  path: '/v1/subtrees/{id}/rounds/{height}/signatures',
  tags: ['rounds'],
  summary: 'Co-sign the round proposed at a height',
  description:
    '`201` when this signature made the round final, `202` when it was recorded and more are needed, `200` when it was known. ' +
    'The signer must be one the subtree\'s mode names (`403 not_a_signer`) and the signature must verify (`401 bad_signature`).',
  request: { params: IdHeightParams, body: jsonBody('RoundSignatureRequest', '`{ signer, sig }` over the proposal hash.') },
  responses: {
    201: { description: 'The round is final', content: { 'application/json': { schema: ProposalView } } },
    202: { description: 'Recorded; more signatures needed', content: { 'application/json': { schema: ProposalView } } },
    200: { description: 'This signature was already recorded', content: { 'application/json': { schema: ProposalView } } },
    ...problems(400, 401, 403, 404, 409, 413, 415),
  },
});
