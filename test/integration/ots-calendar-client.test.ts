/**
 * The calendar client against real HTTP servers on 127.0.0.1: a redirecting calendar is refused
 * (the timestamp must come from the configured URL, and Workers cannot use `redirect: 'error'`),
 * and the local calendar's answer parses into a timestamp over our digest.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { CalendarError, submitDigest } from '../../src/checkpoint/ots-calendar-client.ts';
import { sha256 } from '../../src/core/hash.ts';
import { startLocalCalendar } from '../helpers/ots-calendar.ts';

const cal = startLocalCalendar();
let hits = 0;
const redirecting = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: () => {
    hits++;
    return new Response(null, { status: 302, headers: { location: `${cal.url}/digest` } });
  },
});
afterAll(async () => {
  redirecting.stop(true);
  await cal.close();
});

describe('OpenTimestamps calendar client', () => {
  const digest = sha256(new TextEncoder().encode('dstp calendar client'));

  test('a calendar that redirects is refused, and the target is never asked', async () => {
    const before = cal.counts.digest;
    const err = await submitDigest(`http://127.0.0.1:${redirecting.port}`, digest, { timeoutMs: 2000, hash: sha256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CalendarError);
    expect((err as Error).message).toContain('redirect (302) refused');
    expect(hits).toBe(1);
    expect(cal.counts.digest).toBe(before);
  });

  test('the local calendar answers with a timestamp over the digest', async () => {
    const ts = await submitDigest(cal.url, digest, { timeoutMs: 2000, hash: sha256 });
    expect(ts.msg).toEqual(digest);
    expect(cal.counts.digest).toBe(1);
  });
});
