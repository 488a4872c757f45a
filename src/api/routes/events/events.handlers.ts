import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { NodeContext } from '../../../services/context.ts';
import { nodeRounds, nodeStreamStart, subtreeRounds, subtreeStreamStart, type StreamedRound } from '../../../services/round-stream.ts';
import type { nodeEventsRoute, subtreeEventsRoute } from './events.routes.ts';

/** Writes the rounds as `event: round` messages, with heartbeat comments while nothing happens. */
function serve(ctx: NodeContext, c: Context, rounds: (signal: AbortSignal) => AsyncGenerator<StreamedRound>): Response {
  return streamSSE(c, async (stream) => {
    const ac = new AbortController();
    stream.onAbort(() => ac.abort());
    const beat = setInterval(() => {
      stream.write(': heartbeat\n\n').catch(() => ac.abort());
    }, ctx.config.eventsHeartbeatMs);
    try {
      await stream.write(': stream open\n\n');
      for await (const r of rounds(ac.signal)) {
        await stream.writeSSE({ event: 'round', id: r.id, data: JSON.stringify(r.round) });
      }
    } finally {
      clearInterval(beat);
      ac.abort();
    }
  });
}

export function subtreeEvents(ctx: NodeContext): RouteHandler<typeof subtreeEventsRoute> {
  return (async (c: Context) => {
    const id = (c.req.valid as (t: 'param') => { id: string })('param').id;
    const from = (c.req.valid as (t: 'query') => { from?: number })('query').from;
    const lastEventId = c.req.header('last-event-id');
    const start = await subtreeStreamStart(ctx, id, { ...(from !== undefined ? { from } : {}), ...(lastEventId !== undefined ? { lastEventId } : {}) });
    return serve(ctx, c, (signal) => subtreeRounds(ctx, id, start, signal, ctx.config.eventsPollMs));
  }) as never;
}

export function nodeEvents(ctx: NodeContext): RouteHandler<typeof nodeEventsRoute> {
  return (async (c: Context) => {
    const from = (c.req.valid as (t: 'query') => { from?: number })('query').from;
    const lastEventId = c.req.header('last-event-id');
    const start = await nodeStreamStart(ctx, { ...(from !== undefined ? { from } : {}), ...(lastEventId !== undefined ? { lastEventId } : {}) });
    return serve(ctx, c, (signal) => nodeRounds(ctx, start, signal, ctx.config.eventsPollMs));
  }) as never;
}
