import type { RouteHandler } from '@hono/zod-openapi';
import type { NodeContext } from '../../../services/context.ts';
import { getProgram } from '../../../services/get-program.ts';
import { uploadProgram } from '../../../services/upload-program.ts';
import { hasAdminToken } from '../../middleware/admin-auth.ts';
import type { getProgramRoute, uploadProgramRoute } from './programs.routes.ts';

export function uploadProgramHandler(ctx: NodeContext): RouteHandler<typeof uploadProgramRoute> {
  return async (c) => {
    const admin = hasAdminToken(c.req.header('authorization'), ctx.config.adminToken);
    const out = await uploadProgram(ctx, c.req.valid('json'), { admin });
    return c.json(out.body, out.status);
  };
}

export function getProgramHandler(ctx: NodeContext): RouteHandler<typeof getProgramRoute> {
  return async (c) => c.json(await getProgram(ctx, c.req.valid('param').id), 200);
}
