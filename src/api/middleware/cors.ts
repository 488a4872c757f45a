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

const EXPOSE_HEADERS = 'X-Anchor-Status,Retry-After';

/**
 * CORS for the public API (reads, transactions, subtree creation, co-signer calls): origins from
 * DSTP_CORS_ORIGINS (`*` by default, `[]` = off). Browsers may send only `Content-Type`, so a page
 * can never present an admin token; they may read the headers our answers carry beyond the basics.
 * Preflights go to hono's `cors`. Every other request gets its headers set before the route runs,
 * as hono's `cors` does, but through `c.header`: hono's sets them on a placeholder response that
 * each answer is then copied over (a second Response and Headers per request, on every route).
 */
export function publicCors(origins: '*' | string[], opts: { openPrograms?: boolean } = {}): MiddlewareHandler {
  const preflight = cors({
    origin: origins,
    allowMethods: ['GET', 'HEAD', 'POST'],
    allowHeaders: ['Content-Type'],
    exposeHeaders: EXPOSE_HEADERS.split(','),
    maxAge: 600,
  });
  const open = opts.openPrograms === true;
  return async (c, next) => {
    if (origins.length === 0) return next();
    const method = c.req.method;
    if (method === 'OPTIONS') {
      // A preflight asks for the method the page wants to send.
      const asked = (c.req.header('access-control-request-method') ?? 'OPTIONS').toUpperCase();
      return isAdminRoute(asked, c.req.path, open) ? next() : preflight(c, next);
    }
    if (isAdminRoute(method, c.req.path, open)) return next();
    if (origins === '*') c.header('Access-Control-Allow-Origin', '*');
    else {
      const origin = c.req.header('origin');
      if (origin !== undefined && origins.includes(origin)) c.header('Access-Control-Allow-Origin', origin);
    }
    c.header('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    await next();
    if (origins !== '*') c.header('Vary', 'Origin', { append: true });
  };
}
