import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

/**
 * Management routes (`Authorization: Bearer <admin token>`): no CORS headers and no preflight, so
 * no web page on another origin can drive them through a browser. The list matches the routes
 * whose OpenAPI operation carries `security: adminToken` (a test compares them).
 */
const ADMIN_PATH = /^\/v1\/(?:leader|webhooks)(?:\/|$)|^\/v1\/checkpoints\/?$/;
/**
 * Follows (SPEC §12) and user programs (SPEC §7.1) are public to read and admin-only to change.
 * Uploading a program is public too when the node sets DSTP_OPEN_PROGRAMS, and then carries CORS
 * like every public write: it takes no credential a page could borrow (CORS guards ambient
 * credentials, and a page can never send the admin token), anyone may upload with curl anyway,
 * and size limits and the client's write rate bound it the same either way; so a web playground
 * can upload. Without it, uploading needs the admin token and stays out of pages' reach.
 */
const READ_PUBLIC_PATH = /^\/v1\/(?:follows|programs)(?:\/|$)/;
const PROGRAMS_PATH = '/v1/programs';

function isAdminRoute(method: string, path: string, openPrograms: boolean): boolean {
  if (openPrograms && method === 'POST' && path === PROGRAMS_PATH) return false;
  return ADMIN_PATH.test(path) || (READ_PUBLIC_PATH.test(path) && method !== 'GET' && method !== 'HEAD');
}

/**
 * CORS for the public API (reads, transactions, subtree creation, co-signer calls): origins from
 * DSTP_CORS_ORIGINS (`*` by default, `[]` = off). Browsers may send only `Content-Type`, so a page
 * can never present an admin token; they may read the headers our answers carry beyond the basics.
 */
export function publicCors(origins: '*' | string[], opts: { openPrograms?: boolean } = {}): MiddlewareHandler {
  const allow = cors({
    origin: origins,
    allowMethods: ['GET', 'HEAD', 'POST'],
    allowHeaders: ['Content-Type'],
    exposeHeaders: ['X-Anchor-Status', 'Retry-After'],
    maxAge: 600,
  });
  return async (c, next) => {
    // A preflight asks for the method the page wants to send.
    const method = c.req.method === 'OPTIONS' ? (c.req.header('access-control-request-method') ?? 'OPTIONS') : c.req.method;
    if (origins.length === 0 || isAdminRoute(method.toUpperCase(), c.req.path, opts.openPrograms === true)) return next();
    return allow(c, next);
  };
}
