import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { ADMIN_TOKEN, call, adminHeader, startServer, type TestServer } from '../helpers/server.ts';

/**
 * Admin POSTs that take no body (`/v1/leader/tick`, `/v1/webhooks/dispatch`, `…/test`) need no
 * Content-Type: `curl -X POST` sends neither a body nor Content-Length nor Content-Type. A body
 * that is sent must still be JSON (415 otherwise). Raw HTTP/1.1 over a socket, so the test sends
 * exactly the headers it names (fetch adds Content-Length: 0 on its own).
 */

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.close();
});

async function raw(head: string[], body = ''): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(s.url);
  const socket = connect({ host: hostname, port: Number(port) });
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => resolve());
    socket.on('error', reject);
  });
  socket.write([...head, `host: ${hostname}:${port}`, 'connection: close', '', ''].join('\r\n') + body);
  await done;
  const text = Buffer.concat(chunks).toString('utf8');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
}

const auth = `authorization: Bearer ${ADMIN_TOKEN}`;

describe('admin POSTs without a body', () => {
  test('no Content-Length, no Content-Type (curl -X POST): 200', async () => {
    const r = await raw(['POST /v1/leader/tick HTTP/1.1', auth]);
    expect(r.status).toBe(200);
    expect(r.text).toContain('"rounds"');
    expect((await raw(['POST /v1/webhooks/dispatch HTTP/1.1', auth])).status).toBe(200);
  });

  test('Content-Length: 0 without Content-Type: 200', async () => {
    expect((await raw(['POST /v1/leader/tick HTTP/1.1', auth, 'content-length: 0'])).status).toBe(200);
  });

  test('webhook …/test without a body reaches the handler (404 for an unknown webhook, not 415)', async () => {
    const r = await raw([`POST /v1/webhooks/wh_${'0'.repeat(24)}/test HTTP/1.1`, auth]);
    expect(r.status).toBe(404);
    expect(r.text).toContain('"code":"unknown_webhook"');
  });

  test('a body that is sent must be JSON: without Content-Type, as text/plain, chunked: 415', async () => {
    const none = await raw(['POST /v1/leader/tick HTTP/1.1', auth, 'content-length: 2'], '{}');
    expect(none.status).toBe(415);
    expect(none.text).toContain('unsupported_media_type');
    const plain = await raw(['POST /v1/leader/tick HTTP/1.1', auth, 'content-type: text/plain', 'content-length: 2'], 'go');
    expect(plain.status).toBe(415);
    const chunked = await raw(['POST /v1/leader/tick HTTP/1.1', auth, 'transfer-encoding: chunked'], '2\r\n{}\r\n0\r\n\r\n');
    expect(chunked.status).toBe(415);
    // And a declared JSON body is still fine.
    expect((await call(s.url, 'POST', '/v1/leader/tick', { json: {}, headers: adminHeader() })).status).toBe(200);
  });

  test('a route that needs a body, sent none: 400 from its own checks, not 415', async () => {
    const r = await raw(['POST /v1/transactions HTTP/1.1']);
    expect(r.status).toBe(400);
    expect(r.text).toContain('"code":"invalid_tx"');
  });
});
