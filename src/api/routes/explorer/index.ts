import { Hono, type Context } from 'hono';
import { EXPLORER_CSS, EXPLORER_JS, EXPLORER_VERSION } from './assets.generated.ts';

/**
 * `/explorer`: the web page that shows subtrees, rounds, keys and transactions and verifies them
 * in the reader's browser with the SDK (src/explorer, bundled into assets.generated.ts by
 * scripts/build-explorer.ts). Read-only, same origin, nothing from other hosts (the CSP says so
 * to the browser). The script and stylesheet are versioned by content, so browsers keep them;
 * they go out gzip-compressed when the browser accepts it.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>dstp explorer</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/explorer/app.css?v=${EXPLORER_VERSION}" />
    <script type="module" src="/explorer/app.js?v=${EXPLORER_VERSION}"></script>
  </head>
  <body><noscript>The explorer checks what the node says in your browser, so it needs JavaScript.</noscript></body>
</html>
`;

const ASSETS = {
  'app.js': { text: EXPLORER_JS, type: 'text/javascript; charset=utf-8' },
  'app.css': { text: EXPLORER_CSS, type: 'text/css; charset=utf-8' },
} as const;

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function explorerRoutes(): Hono {
  const app = new Hono();
  const compressed = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  const base = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  const page = (c: Context) => c.body(PAGE, 200, { ...base, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
  app.get('/explorer', page);
  app.get('/explorer/', page);
  for (const [name, { text, type }] of Object.entries(ASSETS)) {
    app.get(`/explorer/${name}`, async (c) => {
      const headers = { ...base, 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', vary: 'accept-encoding', etag: `"${EXPLORER_VERSION}"` };
      if (c.req.header('if-none-match') === headers.etag) return c.body(null, 304, headers);
      if (!/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return c.body(text, 200, headers);
      let z = compressed.get(name);
      if (!z) compressed.set(name, (z = gzip(text)));
      // `encodeBody: 'manual'` tells Workers the body is already gzip (otherwise workerd would
      // compress it again); other runtimes ignore the field and send the bytes as they are.
      return new Response(await z, { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, encodeBody: 'manual' } as ResponseInit);
    });
  }
  return app;
}
