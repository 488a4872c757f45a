import type { RouteHandler } from '@hono/zod-openapi';
import { MAX_ARGS_BYTES, MAX_BATCH, MAX_BODY_BYTES } from '../../../core/limits.ts';
import type { NodeContext } from '../../../services/context.ts';
import { nodeInfo } from '../../../services/node-info.ts';
import { followCounts } from '../../../store/follows.ts';
import { BATCH_BODY_BYTES } from '../../limits.ts';
import { VERSION } from '../../version.ts';
import type { getInfoRoute } from './info.routes.ts';

export function getInfo(ctx: NodeContext): RouteHandler<typeof getInfoRoute> {
  // Nothing in it changes while the process runs but the follow counts (one indexed count).
  const info = nodeInfo(ctx, VERSION, { bodyBytes: MAX_BODY_BYTES, batchBodyBytes: BATCH_BODY_BYTES, argsBytes: MAX_ARGS_BYTES, batch: MAX_BATCH });
  return async (c) => c.json({ ...info, follows: await followCounts(ctx.db) }, 200);
}
