import { afterAll, beforeAll, expect, test } from 'bun:test';
import { PeerClient, PeerError } from '../../src/peers/peer-client.ts';

/**
 * A peer's answer is read up to the client's cap, also when it declares no length and streams
 * (a real HTTP server on 127.0.0.1): past the cap it is a bad answer, never a partial one; an
 * answer that breaks off mid-body is transport trouble.
 */
let server: ReturnType<typeof Bun.serve>;
const CHUNK = new Uint8Array(1024).fill(0x20);

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      const path = new URL(req.url).pathname;
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (path === '/v1/info' && sent >= 64) return c.close();
          if (path === '/v1/subtrees/broken' && sent >= 2) return c.error(new Error('cut'));
          sent++;
          c.enqueue(CHUNK);
        },
      });
      return new Response(stream, { headers: { 'content-type': 'application/json' } });
    },
  });
});

afterAll(() => server.stop(true));

const client = () => new PeerClient(`http://127.0.0.1:${server.port}`, { allowPrivate: true, timeoutMs: 5000, maxBytes: 16 * 1024 });

test('a streamed answer past the cap is a bad answer', async () => {
  const err = await client().info().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PeerError);
  expect([(err as PeerError).kind, (err as PeerError).message]).toEqual(['bad_answer', 'answer exceeds 16384 bytes']);
});

test('an answer that breaks off mid-body is transport trouble, retried by callers', async () => {
  const err = await client().subtree('broken').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PeerError);
  expect((err as PeerError).kind).toBe('unreachable');
});
