import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, PublicKeyString, RoundHeader, jsonBody, problems } from '../../schemas.ts';

const SignedHeaderDoc = z.object({ header: RoundHeader, sig: z.string().regex(/^[0-9a-f]{128}$/) }).strict();

export const EvidenceDoc = z
  .object({ validator: PublicKeyString, a: SignedHeaderDoc, b: SignedHeaderDoc })
  .strict()
  .openapi('Evidence', { description: 'Two different round headers of one subtree and height, each signed by `validator` over its round hash.' });

const SignedExpireDoc = z
  .object({
    expire: z.object({ v: z.literal(1), network: z.string(), subtree: Hex32, height: z.number().int(), round: Hex32 }).strict(),
    sig: z.string().regex(/^[0-9a-f]{128}$/),
  })
  .strict();

export const MultisigEvidenceDoc = z
  .object({ signer: PublicKeyString, a: SignedHeaderDoc, b: SignedHeaderDoc.optional(), expire: SignedExpireDoc.optional() })
  .strict()
  .openapi('MultisigEvidence', {
    description: 'Multisig: two different headers at one height (`a`, `b`), or a header and an expiry vote for it (`a`, `expire`), signed by `signer`.',
  });

export const MultisigEvidenceView = z
  .object({
    id: Hex32.openapi({ description: '`digest("evidence", {v, network, subtree, height, signer, rounds})`; `rounds` = the two round hashes ascending, or `[round, "expire"]`.' }),
    subtree: Hex32,
    signer: PublicKeyString,
    height: z.number().int(),
    halt: z.number().int().openapi({ description: 'The halt it caused; only a resume naming the evidence lifts it.' }),
    createdAt: z.number().int(),
  })
  .openapi('MultisigEvidenceAccepted');

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
  summary: 'Submit equivocation evidence (pos validator or multisig signer)',
  description:
    'Verified in full (`400 invalid_evidence` naming what fails); then a `slash` transaction carrying it is appended to the ' +
    'subtree\'s log, and the next round burns the configured share of the validator\'s stake and removes it from the set. ' +
    'The same evidence again is `409 evidence_known`; other evidence against a validator already slashed is `409 already_slashed`. ' +
    'Multisig evidence (`signer` instead of `validator`) halts the subtree naming the signer (`202`; the same evidence again `200`), unless a valid ' +
    'expiry certificate the node holds for one of two headers refutes it (`400 invalid_evidence`); only a resume naming the evidence lifts that halt.',
  request: { body: jsonBody('Evidence', 'Two conflicting signed headers (pos), or `MultisigEvidence`.') },
  responses: {
    202: { description: 'Accepted; pos: the slash transaction is in the log; multisig: the subtree is halted', content: { 'application/json': { schema: z.union([EvidenceView, MultisigEvidenceView]) } } },
    200: { description: 'Multisig: this evidence was accepted before', content: { 'application/json': { schema: MultisigEvidenceView } } },
    ...problems(400, 404, 409, 413, 415),
  },
});
