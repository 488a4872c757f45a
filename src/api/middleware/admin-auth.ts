import type { MiddlewareHandler } from 'hono';
import { bytesEqual, utf8 } from '../../core/hex.ts';
import { problem } from '../problem.ts';

/**
 * Management calls need `Authorization: Bearer <admin token>`. Without a configured token they are
 * refused outright, so a node started without one exposes no management surface.
 */
export function adminAuth(adminToken: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!adminToken) {
      return problem(c, 'unauthorized', 'management calls are disabled: the node has no admin token (DSTP_ADMIN_TOKEN)');
    }
    if (!hasAdminToken(c.req.header('authorization'), adminToken)) {
      return problem(c, 'unauthorized', 'a valid admin bearer token is required');
    }
    await next();
  };
}

/** Compares in constant time for equal lengths (bytesEqual folds every byte); length is not secret. */
export function hasAdminToken(header: string | undefined, adminToken: string | undefined): boolean {
  if (!adminToken || !header) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return !!m && bytesEqual(utf8(m[1]!), utf8(adminToken));
}
