import { createRoute, z } from '@hono/zod-openapi';
import { SUBTREE_PAGE } from '../../limits.ts';
import { Hex32, IdParams, SubtreeHead, SubtreeSummary, jsonBody, limitQuery, problems } from '../../schemas.ts';

export const createSubtreeRoute = createRoute({
  method: 'post',
  path: '/v1/subtrees',
  tags: ['subtrees'],
  summary: 'Create a subtree (signed request, SPEC §5)',
  description:
    'Authorized by its signatures: the owner and the mode\'s rule. Where the node key must sign (it is the poa authority, ' +
    'a signer or a validator) the node adds its signature only for a caller with `Authorization: Bearer <admin token>` ' +
    '(or when the host opened creation). Round 0 is built from `genesis` and is final at once. Sending the same request again answers 200. ' +
    'With `parent` = an existing subtree id the subtree is nested (id `objectId(parent, owner, name)`); its owner must be the ' +
    "parent's owner, unless the caller has the admin token. The parent's state then carries the child's latest final round under " +
    '`sys/child/<id>` from the parent\'s next round on (docs/protocol.md, "Nested subtrees").',
  request: { body: jsonBody('SubtreeRequest', 'SPEC §5 creation request; validated by the core parser (unknown fields refused).') },
  responses: {
    201: { description: 'Created; the new head', content: { 'application/json': { schema: SubtreeHead } } },
    200: { description: 'The same request was committed before; the current head', content: { 'application/json': { schema: SubtreeHead } } },
    ...problems(400, 401, 403, 409, 413, 415, 422),
  },
});

export const listSubtreesRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees',
  tags: ['subtrees'],
  summary: 'List subtrees (id order, paged)',
  request: {
    query: z.strictObject({
      limit: limitQuery(SUBTREE_PAGE.default, SUBTREE_PAGE.max),
      cursor: Hex32.optional().openapi({ description: 'The `next` of the previous page.' }),
      parent: Hex32.optional().openapi({ description: 'Only children of this subtree (the root id for top-level ones).' }),
    }),
  },
  responses: {
    200: {
      description: 'A page of subtree heads (without the creation request; fetch one by id for it)',
      content: {
        'application/json': {
          schema: z.object({ items: z.array(SubtreeSummary), next: z.string().optional() }).openapi('SubtreePage'),
        },
      },
    },
    ...problems(400),
  },
});

export const getSubtreeRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}',
  tags: ['subtrees'],
  summary: 'A subtree head: height, root, mode, status',
  request: { params: IdParams },
  responses: {
    200: { description: 'The head', content: { 'application/json': { schema: SubtreeHead } } },
    ...problems(400, 404),
  },
});
