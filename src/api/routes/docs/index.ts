import { Hono } from 'hono';

/**
 * `/docs`: the API reference viewer (Swagger UI from the `swagger-ui-dist` npm package) served by
 * the node itself over `/openapi.json`, so it works offline and loads nothing from other hosts
 * (the Content-Security-Policy says so to the browser too). The runtime supplies the viewer's
 * files from node_modules; a host without a file system (Workers) serves a page that points to
 * `/openapi.json` instead.
 */
export const DOCS_FILES = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
} as const;

export type DocsFile = keyof typeof DOCS_FILES;

/** Reads one of the viewer's files; null when this host has none. */
export type DocsAssets = (name: DocsFile) => Promise<Uint8Array | null>;

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>dstp API</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// validatorUrl: null keeps Swagger UI from sending the document to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true });\n`;

const NO_VIEWER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>dstp API</title></head>
<body><p>This host serves no API viewer. The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p></body></html>
`;

export function docsRoutes(assets?: DocsAssets): Hono {
  const app = new Hono();
  const cache = new Map<DocsFile, Promise<Uint8Array | null>>();
  const file = (name: DocsFile) => {
    let p = cache.get(name);
    if (!p) cache.set(name, (p = assets ? assets(name) : Promise.resolve(null)));
    return p;
  };
  const headers = (type: string) => ({ 'content-type': type, 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' });

  app.get('/docs', async (c) => {
    const viewer = await file('swagger-ui-bundle.js');
    return c.body(viewer ? PAGE : NO_VIEWER, 200, headers('text/html; charset=utf-8'));
  });
  app.get('/docs/init.js', (c) => c.body(INIT, 200, headers('text/javascript; charset=utf-8')));
  for (const [name, type] of Object.entries(DOCS_FILES) as [DocsFile, string][]) {
    app.get(`/docs/${name}`, async (c) => {
      const bytes = await file(name);
      if (!bytes) return c.notFound();
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { ...headers(type), 'cache-control': 'public, max-age=86400' });
    });
  }
  return app;
}
