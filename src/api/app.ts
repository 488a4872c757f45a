import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NodeContext } from '../services/context.ts';
import { BATCH_BODY_BYTES, BODY_BYTES, PROGRAM_BODY_BYTES } from './limits.ts';
import { publicCors } from './middleware/cors.ts';
import { jsonBody } from './middleware/json-body.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { requireJson } from './middleware/require-json.ts';
import { problem, problemBody, problemOf, type ProblemBody } from './problem.ts';
import { checkpointsRoutes } from './routes/checkpoints/index.ts';
import { docsRoutes, type DocsAssets } from './routes/docs/index.ts';
import { infoRoutes } from './routes/info/index.ts';
import { leaderRoutes } from './routes/leader/index.ts';
import { logRoutes } from './routes/log/index.ts';
import { evidenceRoutes } from './routes/evidence/index.ts';
import { eventsRoutes } from './routes/events/index.ts';
import { explorerRoutes } from './routes/explorer/index.ts';
import { followsRoutes } from './routes/follows/index.ts';
import { programsRoutes } from './routes/programs/index.ts';
import { proposalsRoutes } from './routes/proposals/index.ts';
import { resumeRoutes } from './routes/resume/index.ts';
import { roundsRoutes } from './routes/rounds/index.ts';
import { stateRoutes } from './routes/state/index.ts';
import { subtreesRoutes } from './routes/subtrees/index.ts';
import { transactionsRoutes } from './routes/transactions/index.ts';
import { webhooksRoutes } from './routes/webhooks/index.ts';
import { DOC_SCHEMAS } from './schemas.ts';
import { validationHook } from './validation.ts';
import { VERSION } from './version.ts';

const BATCH_PATH = '/v1/transactions/batch';
const PROGRAMS_PATH = '/v1/programs';

/**
 * The node's HTTP API (SPEC §11), built from its ports: no module state, so every runtime (and
 * every test) gets a fresh app. Order of the guards on /v1: CORS (public routes only, so even
 * refusals below carry it), the client's write rate (429), JSON media type and charset (415),
 * then the body as it streams in: size (413), nesting depth, UTF-8 and duplicate keys (400);
 * then per-route zod checks of path and query (400 validation_failed); signed bodies are
 * judged by the core parsers inside the verbs. Every error leaves as problem+json.
 */
export function createApp(ctx: NodeContext, docsAssets?: DocsAssets): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  app.use('/v1/*', publicCors(ctx.config.corsOrigins, { openPrograms: ctx.config.openPrograms }));
  app.use('/v1/*', rateLimit(ctx.config, ctx.limits));
  app.use('/v1/*', requireJson);
  app.use('/v1/*', jsonBody((path) => (path === BATCH_PATH ? BATCH_BODY_BYTES : path === PROGRAMS_PATH ? PROGRAM_BODY_BYTES : BODY_BYTES), ctx.log));

  app.route('/', infoRoutes(ctx));
  app.route('/', subtreesRoutes(ctx));
  app.route('/', transactionsRoutes(ctx));
  app.route('/', stateRoutes(ctx));
  app.route('/', roundsRoutes(ctx));
  app.route('/', proposalsRoutes(ctx));
  app.route('/', resumeRoutes(ctx));
  app.route('/', evidenceRoutes(ctx));
  app.route('/', logRoutes(ctx));
  app.route('/', eventsRoutes(ctx));
  app.route('/', followsRoutes(ctx));
  app.route('/', leaderRoutes(ctx));
  app.route('/', checkpointsRoutes(ctx));
  app.route('/', webhooksRoutes(ctx));
  app.route('/', programsRoutes(ctx));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  for (const [name, schema] of Object.entries(DOC_SCHEMAS)) app.openAPIRegistry.register(name, schema);
  app.openAPIRegistry.registerComponent('securitySchemes', 'adminToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'The node\'s admin token (DSTP_ADMIN_TOKEN).',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'dstp',
      version: VERSION,
      description:
        'Distributed State Tree Protocol node, wire version 1. Errors are RFC 9457 `application/problem+json` with a stable `code`. ' +
        'Bytes are lowercase hex; unbounded integers are decimal strings.',
    },
    tags: [
      { name: 'node' },
      { name: 'subtrees' },
      { name: 'transactions' },
      { name: 'state' },
      { name: 'rounds' },
      { name: 'leader' },
      { name: 'checkpoints' },
      { name: 'webhooks' },
      { name: 'follows' },
      { name: 'programs' },
    ],
  });
  app.route('/', docsRoutes(docsAssets));
  app.route('/', explorerRoutes());

  app.notFound((c) => problem(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => onError(ctx, err, c));
  return app;
}

/** HTTP-level failures raised by hono itself (JSON parsing, media type gates). */
const HTTP_CODES: Partial<Record<number, string>> = {
  400: 'malformed_json',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

function onError(ctx: NodeContext, err: unknown, c: Context): Response {
  let body: ProblemBody | null;
  if (err instanceof HTTPException) {
    const code = HTTP_CODES[err.status];
    body = code
      ? problemBody(code, err.status === 400 ? 'request body is not valid JSON' : err.message || code)
      : problemBody(err.status >= 500 ? 'internal_error' : 'validation_failed', err.message);
  } else {
    body = problemOf(err);
  }
  if (body === null || body.status >= 500) {
    // Only a fault of the node gets here: bad input always maps to a 4xx code above.
    ctx.log.error('request failed', {
      method: c.req.method,
      path: c.req.path,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
    });
    body ??= problemBody('internal_error', 'the node failed to handle this request; it has been logged');
  }
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, {
    'content-type': 'application/problem+json',
    ...(typeof body.retryAfter === 'number' ? { 'retry-after': String(body.retryAfter) } : {}),
  });
}
