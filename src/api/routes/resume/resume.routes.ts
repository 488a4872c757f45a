import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, IdParams, PublicKeyString, RoundSignature, jsonBody, problems } from '../../schemas.ts';

export const ResumeView = z
  .object({
    subtree: Hex32,
    status: z.enum(['halted', 'active']),
    resume: z
      .object({
        v: z.literal(1),
        network: z.string(),
        subtree: Hex32,
        action: z.literal('resume'),
        height: z.number().int().openapi({ description: 'Latest final round when the subtree halted.' }),
        halt: z.number().int().openapi({ description: '1-based number of the halt being lifted.' }),
        round: Hex32.openapi({ description: 'Hash of round `height` (the latest final round).' }),
        evidence: Hex32.optional().openapi({ description: 'Only for a halt caused by equivocation evidence: the evidence id; only a resume naming it lifts that halt.' }),
      })
      .openapi({ description: 'What signers sign: `H(utf8("DSTP/resume/v1\\n") || jcs(resume))`.' }),
    digest: Hex32.openapi({ description: 'The 32-byte digest each signature covers.' }),
    signatures: z.array(RoundSignature).openapi({ description: 'Valid resume signatures collected for this halt.' }),
    signers: z.array(PublicKeyString),
    threshold: z.number().int(),
  })
  .openapi('ResumeView');

export const ResumeRequestDoc = z
  .object({ sigs: z.array(z.object({ signer: PublicKeyString, sig: z.string().regex(/^[0-9a-f]{128}$/) }).strict()).min(1).max(64) })
  .strict()
  .openapi('ResumeRequest');

export const getResumeRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/resume',
  tags: ['subtrees'],
  summary: 'The resume object of a halted multisig subtree',
  description: 'A multisig subtree halts after 3 consecutive expired proposals. `409 subtree_not_halted` if it never halted.',
  request: { params: IdParams },
  responses: {
    200: { description: 'The latest halt and the resume object to sign', content: { 'application/json': { schema: ResumeView } } },
    ...problems(400, 404, 409),
  },
});

export const postResumeRoute = createRoute({
  method: 'post',
  path: '/v1/subtrees/{id}/resume',
  tags: ['subtrees'],
  summary: 'Sign the resume of a halted multisig subtree',
  description:
    '`{ "sigs": [{signer, sig}, …] }` over the resume digest. Signatures are collected across calls; `200` once `threshold` ' +
    'distinct current signers signed (the subtree is active again), `202` while more are needed. A key that is not a signer ' +
    'is `403 not_a_signer`, a signature that does not verify `401 bad_signature`; neither changes anything.',
  request: { params: IdParams, body: jsonBody('ResumeRequest', 'Resume signatures.') },
  responses: {
    200: { description: 'Resumed (or this was a retry of signatures already counted)', content: { 'application/json': { schema: ResumeView } } },
    202: { description: 'Recorded; more signatures needed', content: { 'application/json': { schema: ResumeView } } },
    ...problems(400, 401, 403, 404, 409, 413, 415),
  },
});
