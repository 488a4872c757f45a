/**
 * Server-side request forgery guard for webhook targets (SPEC §10): only http(s) URLs, and only
 * hosts whose every DNS address is public unicast. Loopback, private, link-local, unique-local,
 * shared (CGNAT), multicast, unspecified, documentation and other special-purpose ranges are
 * refused, for literal IPs too, including IPv4 hidden in IPv6 (mapped, compatible, NAT64, 6to4).
 * The check runs when a subscription is created and again before every send, because the DNS
 * answer can change (rebinding). A host that allows private targets (tests, a private network)
 * sets DSTP_WEBHOOK_ALLOW_PRIVATE.
 *
 * What remains: fetch resolves the name once more itself, so a resolver that answers differently
 * within milliseconds can still slip through; pinning the address would need a custom connector
 * (and breaks TLS server names), which the Web fetch API does not offer.
 */

export const MAX_WEBHOOK_URL_CHARS = 2048;

export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
  constructor(
    readonly code: 'invalid_webhook_url' | 'webhook_target_private' | 'webhook_target_unresolvable',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses and normalizes a webhook URL: absolute http(s), a host, no credentials (they would sit in
 * logs and the database), no fragment. Throws WebhookUrlError `invalid_webhook_url`.
 */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length === 0 || raw.length > MAX_WEBHOOK_URL_CHARS) {
    throw new WebhookUrlError('invalid_webhook_url', `url must be 1..${MAX_WEBHOOK_URL_CHARS} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError('invalid_webhook_url', 'url is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookUrlError('invalid_webhook_url', `url must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.hostname === '') throw new WebhookUrlError('invalid_webhook_url', 'url has no host');
  if (url.username !== '' || url.password !== '') {
    throw new WebhookUrlError('invalid_webhook_url', 'url must not carry credentials; authenticate receivers by the signature');
  }
  if (url.hash !== '' || raw.includes('#')) throw new WebhookUrlError('invalid_webhook_url', 'url must not have a fragment');
  return url;
}

// ---------- address classification ----------

/** IPv4 dotted quad → 4 bytes, or null. */
export function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** IPv6 text (with `::` and an optional dotted IPv4 tail, no zone) → 16 bytes, or null. */
export function parseIpv6(s: string): Uint8Array | null {
  let text = s;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.includes('%')) text = text.slice(0, text.indexOf('%')); // zone: not part of the address
  const out = new Uint8Array(16);
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (!tail) return null;
    text = text.slice(0, lastColon + 1) + '0:0'; // two placeholder groups, filled below
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...head, ...Array<string>(8 - total).fill('0'), ...rest];
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

function inV4(b: Uint8Array, net: readonly [number, number, number, number], bits: number): boolean {
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
}

function inV6(b: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i]! & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

// RFC 6890 special-purpose IPv4 ranges a webhook must never reach.
const V4_BLOCKED: readonly [readonly [number, number, number, number], number, string][] = [
  [[0, 0, 0, 0], 8, 'unspecified ("this network")'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'shared address space (CGNAT)'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'IETF protocol assignments'],
  [[192, 0, 2, 0], 24, 'documentation'],
  [[192, 88, 99, 0], 24, '6to4 relay anycast'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'benchmarking'],
  [[198, 51, 100, 0], 24, 'documentation'],
  [[203, 0, 113, 0], 24, 'documentation'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved / broadcast'],
];

/** Why an IPv4 address is refused, or null when it is public unicast. */
export function blockedV4(b: Uint8Array): string | null {
  for (const [net, bits, why] of V4_BLOCKED) if (inV4(b, net, bits)) return why;
  return null;
}

/** Why an IPv6 address is refused, or null when it is public unicast. */
export function blockedV6(b: Uint8Array): string | null {
  const v4 = (from: number) => {
    const why = blockedV4(b.subarray(from, from + 4));
    return why ? `${why} (embedded IPv4)` : null;
  };
  if (b.every((x) => x === 0)) return 'unspecified';
  if (inV6(b, [], 127) && b[15] === 1) return 'loopback';
  if (inV6(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96)) return v4(12); // IPv4-mapped
  if (inV6(b, [], 96)) return v4(12) ?? 'IPv4-compatible (deprecated)';
  if (inV6(b, [0, 0x64, 0xff, 0x9b], 96)) return v4(12); // NAT64 well-known prefix
  if (inV6(b, [0, 0x64, 0xff, 0x9b, 0, 1], 48)) return 'NAT64 local use';
  if (inV6(b, [0x20, 0x02], 16)) return v4(2); // 6to4 carries the IPv4 address in bytes 2..5
  if (inV6(b, [0xfc], 7)) return 'unique-local';
  if (inV6(b, [0xfe, 0x80], 10)) return 'link-local';
  if (inV6(b, [0xfe, 0xc0], 10)) return 'site-local (deprecated)';
  if (inV6(b, [0xff], 8)) return 'multicast';
  if (inV6(b, [0x01, 0x00], 64)) return 'discard-only';
  if (inV6(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return 'documentation';
  if (inV6(b, [0x3f, 0xff], 20)) return 'documentation';
  if (inV6(b, [0x20, 0x01], 23)) return 'IETF protocol assignments (Teredo, ORCHID, …)';
  if (!inV6(b, [0x20], 3)) return 'not global unicast';
  return null;
}

/** Why an address (IPv4 or IPv6 text) is refused, null when public; unparseable text is refused. */
export function blockedAddress(ip: string): string | null {
  const v4 = parseIpv4(ip);
  if (v4) return blockedV4(v4);
  const v6 = parseIpv6(ip);
  if (v6) return blockedV6(v6);
  return 'not an IP address';
}

// ---------- the guard ----------

/** Resolves a host name to every address it has (A and AAAA). */
export type ResolveHost = (host: string) => Promise<string[]>;

export const dnsResolve: ResolveHost = async (host) => {
  // Loaded lazily: runtimes without node:dns (Workers) inject their own resolver or allow private.
  const dns = await import('node:dns/promises');
  const addrs = await dns.lookup(host, { all: true, verbatim: true });
  return addrs.map((a) => a.address);
};

export interface TargetGuard {
  /** Throws WebhookUrlError when the URL's host is, or resolves to, a refused address. */
  check(url: URL): Promise<void>;
}

export interface TargetGuardOptions {
  allowPrivate: boolean;
  resolve?: ResolveHost;
  /** How long a verdict for a host name is reused (ms); literal IPs are never looked up. */
  cacheMs?: number;
  now?: () => number;
}

const CACHE_MAX = 1024;

export function createTargetGuard(opts: TargetGuardOptions): TargetGuard {
  const resolve = opts.resolve ?? dnsResolve;
  const cacheMs = opts.cacheMs ?? 5000;
  const now = opts.now ?? Date.now;
  const verdicts = new Map<string, { until: number; error: WebhookUrlError | null }>();

  const judge = async (host: string): Promise<WebhookUrlError | null> => {
    const literal = host.startsWith('[') ? host.slice(1, -1) : parseIpv4(host) ? host : null;
    if (literal !== null) {
      const why = blockedAddress(literal);
      return why ? new WebhookUrlError('webhook_target_private', `target ${host} is ${why}`) : null;
    }
    let addrs: string[];
    try {
      addrs = await resolve(host);
    } catch (err) {
      return new WebhookUrlError('webhook_target_unresolvable', `host ${host} does not resolve (${errorCode(err)})`);
    }
    if (addrs.length === 0) return new WebhookUrlError('webhook_target_unresolvable', `host ${host} has no addresses`);
    // Every address must pass: the HTTP client may connect to any of them.
    for (const a of addrs) {
      const why = blockedAddress(a);
      if (why) return new WebhookUrlError('webhook_target_private', `host ${host} resolves to ${a}, which is ${why}`);
    }
    return null;
  };

  return {
    async check(url) {
      if (opts.allowPrivate) return;
      const host = url.hostname.toLowerCase();
      const t = now();
      let v = verdicts.get(host);
      if (!v || v.until <= t) {
        const error = await judge(host);
        if (verdicts.size >= CACHE_MAX) verdicts.clear();
        v = { until: t + cacheMs, error };
        verdicts.set(host, v);
      }
      if (v.error) throw v.error;
    },
  };
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}
