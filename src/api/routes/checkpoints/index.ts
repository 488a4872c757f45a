import { OpenAPIHono } from '@hono/zod-openapi';
import { checkpointService } from '../../../checkpoint/checkpoint-service.ts';
import type { NodeContext } from '../../../services/context.ts';
import { adminAuth } from '../../middleware/admin-auth.ts';
import { validationHook } from '../../validation.ts';
import { build, chain, consistency, getCheckpoint, globalProof, inclusion, latestCheckpoint, ots } from './checkpoints.handlers.ts';
import {
  buildCheckpointRoute,
  chainRoute,
  consistencyRoute,
  getCheckpointRoute,
  globalProofRoute,
  inclusionRoute,
  latestCheckpointRoute,
  otsRoute,
} from './checkpoints.routes.ts';

/** Checkpoints, their log proofs, anchors and global-tree proofs (SPEC §9). Fixed paths before `{seq}`. */
export function checkpointsRoutes(ctx: NodeContext): OpenAPIHono {
  const svc = checkpointService(ctx);
  const app = new OpenAPIHono({ defaultHook: validationHook });
  // Keys may hold '/', sent plain or encoded: served on a regexp parameter, documented as `{key}`.
  app.openapi({ ...chainRoute, path: '/v1/subtrees/{id}/chain/{key{.+}}', hide: true }, chain(svc));
  app.openAPIRegistry.registerPath(chainRoute);
  return app
    .openapi(latestCheckpointRoute, latestCheckpoint(svc))
    .openapi(consistencyRoute, consistency(svc))
    .openapi(getCheckpointRoute, getCheckpoint(svc))
    .openapi(inclusionRoute, inclusion(svc))
    .openapi(otsRoute, ots(svc))
    .openapi(globalProofRoute, globalProof(svc))
    .openapi({ ...buildCheckpointRoute, middleware: adminAuth(ctx.config.adminToken) }, build(svc));
}
