import { createRoute, z } from '@hono/zod-openapi';
import { ROUND_PAGE } from '../../limits.ts';
import { Hex32, IdHeightParams, IdParams, PublicKeyString, RoundHeader, RoundSignature, jsonBody, limitQuery, problems, uintString } from '../../schemas.ts';

export const ExpireObject = z
  .object({ v: z.literal(1), network: z.string(), subtree: Hex32, height: z.number().int(), round: Hex32 })
  .openapi('ExpireObject', { description: 'What an expiry vote signs: `digest("expire", {v, network, subtree, height, round})`.' });

export const ExpiryCertificate = z
  .object({ expire: ExpireObject, sigs: z.array(RoundSignature) })
  .openapi('ExpiryCertificate', { description: '`threshold` expiry votes by distinct signers in force for that height.' });

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
    certificate: ExpiryCertificate.optional().openapi({ description: 'Expired proposals: the expiry certificate that expired it (SPEC §5).' }),
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
    'The signer must be one the subtree\'s mode names (`403 not_a_signer`) and the signature must verify (`401 bad_signature`); a malformed `sig` is `400 validation_failed`. ' +
    'A signer that voted to expire the proposal cannot sign it (`409 conflict`).',
  request: { params: IdHeightParams, body: jsonBody('RoundSignatureRequest', '`{ signer, sig }` over the proposal hash.') },
  responses: {
    201: { description: 'The round is final', content: { 'application/json': { schema: ProposalView } } },
    202: { description: 'Recorded; more signatures needed', content: { 'application/json': { schema: ProposalView } } },
    200: { description: 'This signature was already recorded', content: { 'application/json': { schema: ProposalView } } },
    ...problems(400, 401, 403, 404, 409, 413, 415),
  },
});

export const ExpiryVoteRequestDoc = z
  .object({
    signer: PublicKeyString,
    round: Hex32.openapi({ description: 'Hash of the proposal to expire.' }),
    sig: z.string().regex(/^[0-9a-f]{128}$/).openapi({ description: 'Signature over `digest("expire", {v: 1, network, subtree, height, round})`.' }),
  })
  .strict()
  .openapi('ExpiryVoteRequest');

const ExpiryView = z
  .object({
    subtree: Hex32,
    height: z.number().int(),
    round: Hex32,
    votes: z.array(RoundSignature),
    threshold: z.number().int(),
    status: z.enum(['open', 'final', 'expired']),
  })
  .openapi('ExpiryVotes');

export const addExpiryRoute = createRoute({
  method: 'post',
  path: '/v1/subtrees/{id}/rounds/{height}/expiries',
  tags: ['rounds'],
  summary: 'Vote to expire the multisig proposal at a height',
  description:
    '`201` when this vote completed an expiry certificate (`threshold` distinct current signers; the proposal expires if still open, its transactions stay pending), ' +
    '`202` when it was recorded, `200` when it was known. Only signers in force for the height vote (`403 not_a_signer`); the signature must verify (`401 bad_signature`); ' +
    'a signer that signed the proposal cannot vote to expire it (`409 conflict`). A proposal expires by certificate only, never by the node\'s clock.',
  request: { params: IdHeightParams, body: jsonBody('ExpiryVoteRequest', '`{ signer, round, sig }`.') },
  responses: {
    201: { description: 'The votes form a certificate', content: { 'application/json': { schema: ExpiryView } } },
    202: { description: 'Recorded; more votes needed', content: { 'application/json': { schema: ExpiryView } } },
    200: { description: 'This vote was already recorded', content: { 'application/json': { schema: ExpiryView } } },
    ...problems(400, 401, 403, 404, 409, 413, 415),
  },
});
