import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NodeContext } from '../services/context.ts';
import { BATCH_BODY_BYTES, BODY_BYTES, PROGRAM_BODY_BYTES } from './limits.ts';
import { requireJson } from './middleware/require-json.ts';
import { problem, problemBody, problemOf, type ProblemBody } from './problem.ts';
import { checkpointsRoutes } from './routes/checkpoints/index.ts';
import { infoRoutes } from './routes/info/index.ts';
import { leaderRoutes } from './routes/leader/index.ts';
import { logRoutes } from './routes/log/index.ts';
import { evidenceRoutes } from './routes/evidence/index.ts';
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
 * every test) gets a fresh app. Order of the guards on /v1: JSON media type (415), body size
 * (413), then per-route zod checks of path and query (400 validation_failed); signed bodies are
 * judged by the core parsers inside the verbs. Every error leaves as problem+json.
 */
export function createApp(ctx: NodeContext): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  app.use('/v1/*', requireJson);
  app.use('/v1/*', bodyLimits());

  app.route('/', infoRoutes(ctx));
  app.route('/', subtreesRoutes(ctx));
  app.route('/', transactionsRoutes(ctx));
  app.route('/', stateRoutes(ctx));
  app.route('/', roundsRoutes(ctx));
  app.route('/', proposalsRoutes(ctx));
  app.route('/', resumeRoutes(ctx));
  app.route('/', evidenceRoutes(ctx));
  app.route('/', logRoutes(ctx));
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
      { name: 'programs' },
    ],
  });
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'dstp API' }));

  app.notFound((c) => problem(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => onError(ctx, err, c));
  return app;
}

/** 64 KiB for every body (SPEC §6) except the batch route's 4 MiB and the program upload's 512 KiB. */
function bodyLimits(): MiddlewareHandler {
  const tooLarge = (max: number) => (c: Context) =>
    problem(c, 'payload_too_large', `request body exceeds ${max} bytes`, { limit: max });
  const small = bodyLimit({ maxSize: BODY_BYTES, onError: tooLarge(BODY_BYTES) });
  const batch = bodyLimit({ maxSize: BATCH_BODY_BYTES, onError: tooLarge(BATCH_BODY_BYTES) });
  const program = bodyLimit({ maxSize: PROGRAM_BODY_BYTES, onError: tooLarge(PROGRAM_BODY_BYTES) });
  return (c, next) => (c.req.path === BATCH_PATH ? batch(c, next) : c.req.path === PROGRAMS_PATH ? program(c, next) : small(c, next));
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
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, { 'content-type': 'application/problem+json' });
}
