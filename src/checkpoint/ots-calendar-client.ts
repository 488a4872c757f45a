import type { Sha256 } from '../core/hash.ts';
import { toHex } from '../core/hex.ts';
import { readTimestamp, type Timestamp } from '../core/ots.ts';

/**
 * The OpenTimestamps calendar HTTP API, as the reference client uses it:
 * - `POST <calendar>/digest` with the raw digest as body → a timestamp tree over that digest
 *   (usually ending in a pending attestation naming the calendar that will anchor it);
 * - `GET <calendar>/timestamp/<hex commitment>` → the tree from that commitment on (200), or
 *   404 while it is not anchored yet.
 * Responses are capped at 10,000 bytes like the reference client's.
 */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface CalendarOptions {
  fetch?: FetchLike;
  timeoutMs: number;
  hash: Sha256;
}

const HEADERS = { accept: 'application/vnd.opentimestamps.v1', 'user-agent': 'dstp' };
const MAX_RESPONSE = 10_000;

export class CalendarError extends Error {
  override readonly name = 'CalendarError';
}

function join(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path}`;
}

async function body(res: Response, url: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_RESPONSE) throw new CalendarError(`${url}: response exceeds ${MAX_RESPONSE} bytes`);
  return bytes;
}

async function request(url: string, init: RequestInit, opts: CalendarOptions): Promise<Response> {
  const f = opts.fetch ?? fetch;
  let res: Response;
  try {
    // `manual`, not `error`: Workers implement only follow/manual. A calendar that redirects is
    // refused here, so a timestamp never comes from a URL we were not configured to ask.
    res = await f(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs), redirect: 'manual' });
  } catch (e) {
    throw new CalendarError(`${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (res.status >= 300 && res.status < 400 || res.type === 'opaqueredirect') {
    await res.body?.cancel();
    throw new CalendarError(`${url}: redirect (${res.status}) refused`);
  }
  return res;
}

/** Submits `digest`; returns the calendar's timestamp over it. */
export async function submitDigest(calendar: string, digest: Uint8Array, opts: CalendarOptions): Promise<Timestamp> {
  const url = join(calendar, 'digest');
  const res = await request(url, { method: 'POST', headers: { ...HEADERS, 'content-type': 'application/octet-stream' }, body: digest as Uint8Array<ArrayBuffer> }, opts);
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new CalendarError(`${url}: HTTP ${res.status}`);
  }
  try {
    return readTimestamp(await body(res, url), digest, opts.hash);
  } catch (e) {
    throw new CalendarError(`${url}: unreadable timestamp: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Asks for the upgraded timestamp of `commitment`; null while the calendar has nothing newer (404). */
export async function fetchUpgrade(calendar: string, commitment: Uint8Array, opts: CalendarOptions): Promise<Timestamp | null> {
  const url = join(calendar, `timestamp/${toHex(commitment)}`);
  const res = await request(url, { method: 'GET', headers: HEADERS }, opts);
  if (res.status === 404) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new CalendarError(`${url}: HTTP ${res.status}`);
  }
  try {
    return readTimestamp(await body(res, url), commitment, opts.hash);
  } catch (e) {
    throw new CalendarError(`${url}: unreadable timestamp: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Calendars run by the OpenTimestamps operators that public aggregators hand out (reference client's list). */
const PUBLIC_CALENDAR_HOSTS = [/^[a-z0-9-]+\.calendar\.opentimestamps\.org$/, /^[a-z0-9-]+\.calendar\.eternitywall\.com$/, /^[a-z0-9-]+\.calendar\.catallaxy\.com$/];

/**
 * Whether an upgrade may be fetched from a pending attestation's URI: it is one of the configured
 * calendars, or an https URL of the public calendar operators. Anything else is ignored, so a
 * calendar cannot make the node fetch arbitrary URLs.
 */
export function isAllowedCalendarUri(uri: string, configured: readonly string[]): boolean {
  const norm = uri.replace(/\/+$/, '');
  if (configured.some((c) => c.replace(/\/+$/, '') === norm)) return true;
  let u: URL;
  try {
    u = new URL(norm);
  } catch {
    return false;
  }
  return u.protocol === 'https:' && u.port === '' && (u.pathname === '/' || u.pathname === '') && PUBLIC_CALENDAR_HOSTS.some((re) => re.test(u.hostname));
}
