import type { MiddlewareHandler } from 'hono';
import { problem } from '../problem.ts';

const JSON_MEDIA = /^application\/([\w.-]+\+)?json$/i;

/**
 * Hono's JSON validator silently sees `{}` when the Content-Type is not JSON; a body we cannot
 * trust to be JSON must be refused outright (415), before any validation runs. A request without
 * a body (no Content-Length or `Content-Length: 0`, and no Transfer-Encoding: what `curl -X POST`
 * sends to `/v1/leader/tick`) needs no Content-Type. The headers decide, not `req.body`: Node's
 * adapter gives every POST a body stream, empty or not.
 */
export const requireJson: MiddlewareHandler = async (c, next) => {
  const method = c.req.method;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const [media, ...params] = (c.req.header('content-type') ?? '').split(';');
    const type = media!.trim();
    const length = c.req.header('content-length');
    const hasBody = c.req.header('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
    if (!JSON_MEDIA.test(type) && (hasBody || type !== '')) {
      return problem(c, 'unsupported_media_type', `expected Content-Type: application/json, got ${type || 'none'}`);
    }
    // JSON is UTF-8 (RFC 8259 §8.1); a body declared in another charset would be read as something else.
    const charset = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('charset='));
    if (charset && !/^charset="?utf-8"?$/.test(charset)) {
      return problem(c, 'unsupported_media_type', `JSON bodies must be UTF-8, got ${charset}`);
    }
  }
  await next();
};
