import { createRoute, z } from '@hono/zod-openapi';
import { AcceptResponse, Acceptance, Hex32, Problem, PublicKeyString, Receipt, TxEnvelopeDoc, TxIdParams, jsonBody, problems } from '../../schemas.ts';

export const submitTransactionRoute = createRoute({
  method: 'post',
  path: '/v1/transactions',
  tags: ['transactions'],
  summary: 'Accept a signed transaction into its subtree\'s log',
  description:
    '`202` once the transaction is durably appended (the log order is the execution order); `200` with the same signed ' +
    'acceptance when the id is known. The nonce must be the next one for (subtree, sender), else `409 nonce_mismatch` ' +
    'with `expected`. Body ≤ 64 KiB, `args` ≤ 16 KiB canonical.',
  request: { body: jsonBody('TxEnvelope', 'SPEC §6 `{tx, sig}`; validated by the core parser (unknown fields refused).') },
  responses: {
    202: { description: 'Accepted: appended to the log', content: { 'application/json': { schema: AcceptResponse } } },
    200: { description: 'Known id: the acceptance given before', content: { 'application/json': { schema: AcceptResponse } } },
    ...problems(400, 401, 403, 404, 409, 413, 415),
  },
});

export const BatchItem = z
  .object({
    index: z.number().int(),
    status: z.number().int().openapi({ description: 'This item\'s own HTTP status: 202, 200 or the problem\'s.' }),
    id: Hex32.optional(),
    accept: Acceptance.optional(),
    sig: z.string().optional(),
    problem: Problem.optional(),
  })
  .openapi('BatchItem');

export const submitBatchRoute = createRoute({
  method: 'post',
  path: '/v1/transactions/batch',
  tags: ['transactions'],
  summary: 'Accept up to 1000 transactions in one request',
  description:
    'Items are judged in order (a later item may use the nonce after an earlier one) and the valid ones are committed ' +
    'together. Each item carries its own status; the response is `202` if any new transaction was accepted, else `200`. Body ≤ 4 MiB.',
  request: { body: jsonBody('TxBatch', '`{ "txs": [ {tx, sig}, … ] }` with 1..1000 transactions.') },
  responses: {
    202: { description: 'At least one new transaction accepted', content: { 'application/json': { schema: z.object({ items: z.array(BatchItem) }) } } },
    200: { description: 'Nothing new accepted (all known or all refused)', content: { 'application/json': { schema: z.object({ items: z.array(BatchItem) }) } } },
    ...problems(400, 413, 415),
  },
});

export const TxView = z
  .object({
    id: Hex32,
    status: z.enum(['pending', 'executed', 'failed']),
    subtree: Hex32,
    seq: z.number().int(),
    sender: PublicKeyString,
    nonce: z.number().int(),
    receipt: Receipt.optional().openapi({ description: 'SPEC §8 receipt, once executed.' }),
    height: z.number().int().optional().openapi({ description: 'Round that executed it.' }),
    accept: Acceptance,
    sig: z.string().openapi({ description: 'Node signature over `digest("accept", accept)`.' }),
    envelope: TxEnvelopeDoc,
  })
  .openapi('Transaction');

export const getTransactionRoute = createRoute({
  method: 'get',
  path: '/v1/transactions/{id}',
  tags: ['transactions'],
  summary: 'Status of a transaction: pending, executed or failed',
  request: { params: TxIdParams },
  responses: {
    200: { description: 'The transaction', content: { 'application/json': { schema: TxView } } },
    ...problems(400, 404),
  },
});
