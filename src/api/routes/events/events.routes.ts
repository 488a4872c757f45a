import { createRoute, z } from '@hono/zod-openapi';
import { IdParams, problems, uintString } from '../../schemas.ts';

const EventsQuery = z.strictObject({
  from: uintString().optional().openapi({ description: 'First height to send (inclusive). `Last-Event-ID` wins over it.' }),
});

const stream = (description: string) => ({
  200: {
    description,
    content: {
      'text/event-stream': {
        schema: z.string().openapi({
          description: '`event: round`, `id: …`, `data:` the round object of `GET /v1/subtrees/{id}/rounds/{height}`; comment lines are heartbeats.',
        }),
      },
    },
  },
});

export const subtreeEventsRoute = createRoute({
  method: 'get',
  path: '/v1/subtrees/{id}/events',
  tags: ['rounds'],
  summary: 'Server-sent events: the subtree\'s final rounds as they happen (`id: <height>`)',
  description:
    'With neither `from` nor `Last-Event-ID` the stream starts after the current head. `Last-Event-ID: <height>` resumes after that round.',
  request: { params: IdParams, query: EventsQuery },
  responses: { ...stream('A stream of final rounds'), ...problems(400, 404) },
});

export const nodeEventsRoute = createRoute({
  method: 'get',
  path: '/v1/events',
  tags: ['rounds'],
  summary: 'Server-sent events: final rounds of every subtree on this node (`id: <subtree>:<height>`)',
  description:
    'In the order the rounds became final here. `from` sends every retained final round of height ≥ `from`; `Last-Event-ID: <subtree>:<height>` resumes after that round; with neither the stream starts now.',
  request: { query: EventsQuery },
  responses: { ...stream('A stream of final rounds'), ...problems(400, 404) },
});
