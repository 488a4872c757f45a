import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { CheckpointService } from '../../../checkpoint/checkpoint-service.ts';
import type { CheckpointRow } from '../../../store/checkpoints.ts';
import type {
  buildCheckpointRoute,
  chainRoute,
  consistencyRoute,
  getCheckpointRoute,
  globalProofRoute,
  inclusionRoute,
  latestCheckpointRoute,
  otsRoute,
} from './checkpoints.routes.ts';

/** `Accept: text/plain` (without JSON) asks for the signed note itself (SPEC §9). */
function wantsNote(c: Context): boolean {
  const accept = (c.req.header('accept') ?? '').toLowerCase();
  return accept.includes('text/plain') && !accept.includes('json');
}

function respond(c: Context, svc: CheckpointService, row: CheckpointRow): Response {
  if (wantsNote(c)) return c.body(row.note, 200, { 'content-type': 'text/plain; charset=utf-8' });
  return c.json(svc.view(row), 200);
}

export function latestCheckpoint(svc: CheckpointService): RouteHandler<typeof latestCheckpointRoute> {
  return (async (c: Context) => respond(c, svc, await svc.latestRow())) as never;
}

export function getCheckpoint(svc: CheckpointService): RouteHandler<typeof getCheckpointRoute> {
  return (async (c: Context & { req: { valid(t: 'param'): { seq: number } } }) => respond(c, svc, await svc.row(c.req.valid('param').seq))) as never;
}

export function inclusion(svc: CheckpointService): RouteHandler<typeof inclusionRoute> {
  return async (c) => {
    const { seq } = c.req.valid('param');
    const { size } = c.req.valid('query');
    return c.json((await svc.inclusion(seq, size)) as never, 200);
  };
}

export function consistency(svc: CheckpointService): RouteHandler<typeof consistencyRoute> {
  return async (c) => {
    const { from, to } = c.req.valid('query');
    return c.json(await svc.consistency(from, to), 200);
  };
}

export function globalProof(svc: CheckpointService): RouteHandler<typeof globalProofRoute> {
  return async (c) => {
    const { id } = c.req.valid('param');
    const { seq } = c.req.valid('query');
    return c.json((await svc.globalProof(id, seq)) as never, 200);
  };
}

export function ots(svc: CheckpointService): RouteHandler<typeof otsRoute> {
  return (async (c: Context & { req: { valid(t: 'param'): { seq: number } } }) => {
    const { seq } = c.req.valid('param');
    const file = await svc.otsFile(seq);
    return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/vnd.opentimestamps.v1',
      'content-disposition': `attachment; filename="checkpoint-${seq}.ots"`,
      'x-anchor-status': file.status,
    });
  }) as never;
}

export function build(svc: CheckpointService): RouteHandler<typeof buildCheckpointRoute> {
  return async (c) => c.json(await svc.build(), 200);
}

export function chain(svc: CheckpointService): RouteHandler<typeof chainRoute> {
  return async (c) => {
    const { id, key } = c.req.valid('param');
    const { seq, size } = c.req.valid('query');
    return c.json((await svc.chain(id, key, { ...(seq !== undefined ? { seq } : {}), ...(size !== undefined ? { size } : {}) })) as never, 200);
  };
}
