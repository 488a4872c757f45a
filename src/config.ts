import { z } from 'zod';

/**
 * The node's whole configuration, validated once at start. This is the only module that looks at
 * the environment: everything else receives a `Config` value, so Workers and tests build fresh ones.
 */
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `100/s`, `6000/min`, `50000/h`; `0` or `off` turns the limit off (null). */
const rate = z
  .string()
  .trim()
  .regex(/^(0|off|\d+(\.\d+)?\/(s|min|h))$/, 'must be like 100/s, 6000/min or 50000/h, or 0 to turn it off')
  .transform((v): number | null => {
    if (v === '0' || v === 'off') return null;
    const [n, unit] = v.split('/') as [string, 's' | 'min' | 'h'];
    const perSecond = Number(n) / { s: 1, min: 60, h: 3600 }[unit];
    return perSecond > 0 ? perSecond : null;
  });

export const configSchema = z.object({
  PORT: intIn(0, 65535).default(8787),
  HOST: z.string().min(1).default('0.0.0.0'),
  DSTP_DATABASE_URL: z
    .string()
    .regex(/^(file:|libsql:|https?:|wss?:)/, 'must start with file:, libsql:, http(s): or ws(s):')
    .default('file:./data/dstp.db'),
  DSTP_DATABASE_AUTH_TOKEN: z.string().min(1).optional(),
  /** Embedded replica: DSTP_DATABASE_URL is the local file, this is the primary it syncs from. */
  DSTP_DATABASE_SYNC_URL: z
    .string()
    .regex(/^(libsql:|https?:|wss?:)/, 'must start with libsql:, http(s): or ws(s):')
    .optional(),
  DSTP_DATABASE_SYNC_INTERVAL_S: intIn(1, 3600).default(1),
  DSTP_NETWORK: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 characters of [a-z0-9._-]')
    .default('dstp-local'),
  DSTP_NODE_KEY: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be a 32-byte ed25519 secret key in lowercase hex')
    .optional(),
  DSTP_DATA_DIR: z.string().min(1).optional(),
  DSTP_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  DSTP_OPEN_SUBTREES: flag.default(false),
  DSTP_OPEN_PROGRAMS: flag.default(false),
  DSTP_ROUND_INTERVAL_MS: intIn(10, 3_600_000).default(200),
  DSTP_MAX_ROUND_TXS: intIn(1, 100_000).default(5000),
  DSTP_MAX_ROUND_GAS: intIn(1, Number.MAX_SAFE_INTEGER).default(10_000_000_000),
  DSTP_LEASE_TTL_MS: intIn(500, 600_000).default(5000),
  /** Threads for signature checks and the node's signatures; `auto` = one per spare core, at most 4. */
  DSTP_CRYPTO_THREADS: z.union([z.literal('auto'), intIn(0, 64)]).default('auto'),
  DSTP_ORIGIN: z
    .string()
    .regex(/^[^\s+]{1,255}$/u, 'must be 1-255 characters without spaces or "+" (it is the checkpoint note key name)')
    .optional(),
  DSTP_CHECKPOINT_INTERVAL_MS: intIn(50, 86_400_000).default(10_000),
  /** Comma-separated OpenTimestamps calendar URLs; `none` (or empty) turns anchoring off. */
  DSTP_OTS_CALENDARS: z.string().optional(),
  DSTP_OTS_INTERVAL_MS: intIn(20, 86_400_000).default(30_000),
  DSTP_OTS_UPGRADE_INTERVAL_MS: intIn(20, 86_400_000).default(600_000),
  DSTP_OTS_TIMEOUT_MS: intIn(50, 600_000).default(10_000),
  /** Origins allowed to call the public API from a browser: `*`, a comma-separated list, or `none`. */
  DSTP_CORS_ORIGINS: z.string().optional(),
  DSTP_LOG: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
  DSTP_WEBHOOK_ALLOW_PRIVATE: flag.default(false),
  DSTP_WEBHOOK_MAX_ATTEMPTS: intIn(1, 100).default(12),
  DSTP_WEBHOOK_TIMEOUT_MS: intIn(50, 120_000).default(10_000),
  DSTP_WEBHOOK_CONCURRENCY: intIn(1, 256).default(4),
  DSTP_WEBHOOK_DISABLE_AFTER_MS: intIn(1000, 90 * 24 * 3_600_000).default(3 * 24 * 3_600_000),
  DSTP_WEBHOOK_INTERVAL_MS: intIn(10, 3_600_000).default(250),
  DSTP_WEBHOOK_BACKOFF_MS: intIn(1, 3_600_000).default(1000),
  DSTP_WEBHOOK_BACKOFF_MAX_MS: intIn(1, 7 * 24 * 3_600_000).default(3_600_000),
  DSTP_RATE_LIMIT: rate.prefault('100/s'),
  DSTP_SENDER_RATE_LIMIT: rate.prefault('1000/s'),
  DSTP_PEER_RATE_LIMIT: rate.prefault('5000/s'),
  DSTP_MAX_PENDING_PER_SENDER: intIn(0, 1_000_000_000).default(10_000),
  /** The header the proxy in front sets to the client's address, e.g. `cf-connecting-ip`, `x-forwarded-for`. */
  DSTP_TRUST_PROXY: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a header name, e.g. x-forwarded-for or cf-connecting-ip')
    .optional(),
  /** Comma-separated addresses of nodes that forward for their clients (SPEC §12). */
  DSTP_TRUSTED_PEERS: z
    .string()
    .trim()
    .regex(/^([0-9a-fA-F.:]+)(\s*,\s*[0-9a-fA-F.:]+)*$|^$/, 'must be comma-separated IP addresses')
    .optional(),
  /** Event streams (SPEC §12): how often a stream looks for new final rounds, and its heartbeat. */
  DSTP_EVENTS_POLL_MS: intIn(5, 60_000).default(50),
  DSTP_EVENTS_HEARTBEAT_MS: intIn(50, 300_000).default(5000),
  /** Following (SPEC §12): origins may be loopback/private (tests, private networks). */
  DSTP_PEER_ALLOW_PRIVATE: flag.default(false),
  DSTP_PEER_TIMEOUT_MS: intIn(50, 120_000).default(10_000),
  /** How often a follow polls its origin (it also listens to the origin's event stream). */
  DSTP_FOLLOW_INTERVAL_MS: intIn(10, 3_600_000).default(1000),
  /** Other nodes that follow the same subtrees: a follow compares its verified head with theirs (SPEC §12 forks). */
  DSTP_FOLLOW_WITNESSES: z.string().optional(),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  databaseAuthToken?: string;
  /** Primary of an embedded replica (reads local, writes forwarded); `databaseUrl` is then the local file. */
  databaseSyncUrl?: string;
  /** How often a replica pulls the primary's changes (seconds). */
  databaseSyncIntervalS: number;
  network: string;
  nodeKeyHex?: string;
  /** Where a generated node key is kept: the file database's folder unless set. */
  dataDir: string;
  adminToken?: string;
  openSubtrees: boolean;
  /** Anyone may upload user programs (SPEC §7.1); otherwise only with the admin token. */
  openPrograms: boolean;
  roundIntervalMs: number;
  maxRoundTxs: number;
  /**
   * Gas of one round of a user-program subtree (SPEC §7.1). The leader takes at most
   * floor(maxRoundGas / gasLimit) transactions (at least one), so a round's worst case is bounded
   * before it runs.
   */
  maxRoundGas: number;
  leaseTtlMs: number;
  /** Crypto pool threads (0 = everything on the serving thread); 'auto' is resolved at start. */
  cryptoThreads: number | 'auto';
  origin: string;
  /** How often the checkpoint builder looks for changed subtree heads (SPEC §9). */
  checkpointIntervalMs: number;
  /** OpenTimestamps calendars; empty = no anchoring. */
  otsCalendars: string[];
  /** Anchor loop tick, upgrade spacing and per-request timeout (ms). */
  otsIntervalMs: number;
  otsUpgradeIntervalMs: number;
  otsTimeoutMs: number;
  log: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  /** CORS on the public API (never on admin routes); `[]` = none. */
  corsOrigins: '*' | string[];
  /** Webhook targets may be loopback/private/link-local (tests, private networks). */
  webhookAllowPrivate: boolean;
  /** Attempts per delivery before it is dead-lettered. */
  webhookMaxAttempts: number;
  /** Deadline of one delivery attempt. */
  webhookTimeoutMs: number;
  /** Sends in flight per endpoint, across all processes. */
  webhookConcurrency: number;
  /** An endpoint failing continuously this long is disabled. */
  webhookDisableAfterMs: number;
  /** Delivery worker poll interval (it is also kicked after commits). */
  webhookIntervalMs: number;
  /** Exponential back-off base and cap between attempts (jittered). */
  webhookBackoffMs: number;
  webhookBackoffMaxMs: number;
  /** Write requests per second per client address (burst twice that); null = off. */
  rateLimit: number | null;
  /** Transactions per second per (subtree, sender), counted after the signature checks; null = off. */
  senderRateLimit: number | null;
  /** Write requests per second from one trusted forwarding peer, as a whole; null = off. */
  peerRateLimit: number | null;
  /** Most pending (accepted, not yet executed) transactions per (subtree, sender); 0 = no limit. */
  maxPendingPerSender: number;
  /** Header holding the client address, set by the proxy in front; else the socket address counts. */
  trustProxy?: string;
  /** Addresses of peers that forward for their clients and may name them in `dstp-client-address`. */
  trustedPeers: string[];
  /** Event streams: poll interval for new final rounds, and heartbeat comment interval (ms). */
  eventsPollMs: number;
  eventsHeartbeatMs: number;
  /** Follow origins may be loopback/private/link-local addresses. */
  peerAllowPrivate: boolean;
  /** Deadline of one request to another node (ms). */
  peerTimeoutMs: number;
  /** Poll interval of a follow's sync loop (ms); the origin's event stream wakes it sooner. */
  followIntervalMs: number;
  /** Base URLs of other nodes whose rounds of each followed subtree are compared with this node's (forks). */
  followWitnesses: string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([k, v]) => k in configSchema.shape && v !== undefined)),
  );
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.DSTP_DATABASE_SYNC_URL && !e.DSTP_DATABASE_URL.startsWith('file:')) {
    throw new ConfigError('invalid configuration:\n  DSTP_DATABASE_URL: must be a file: URL (the local replica) when DSTP_DATABASE_SYNC_URL is set');
  }
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DSTP_DATABASE_URL,
    ...(e.DSTP_DATABASE_AUTH_TOKEN ? { databaseAuthToken: e.DSTP_DATABASE_AUTH_TOKEN } : {}),
    ...(e.DSTP_DATABASE_SYNC_URL ? { databaseSyncUrl: e.DSTP_DATABASE_SYNC_URL } : {}),
    databaseSyncIntervalS: e.DSTP_DATABASE_SYNC_INTERVAL_S,
    network: e.DSTP_NETWORK,
    ...(e.DSTP_NODE_KEY ? { nodeKeyHex: e.DSTP_NODE_KEY } : {}),
    dataDir: e.DSTP_DATA_DIR ?? dataDirOf(e.DSTP_DATABASE_URL),
    ...(e.DSTP_ADMIN_TOKEN ? { adminToken: e.DSTP_ADMIN_TOKEN } : {}),
    openSubtrees: e.DSTP_OPEN_SUBTREES,
    openPrograms: e.DSTP_OPEN_PROGRAMS,
    roundIntervalMs: e.DSTP_ROUND_INTERVAL_MS,
    maxRoundTxs: e.DSTP_MAX_ROUND_TXS,
    maxRoundGas: e.DSTP_MAX_ROUND_GAS,
    leaseTtlMs: e.DSTP_LEASE_TTL_MS,
    cryptoThreads: e.DSTP_CRYPTO_THREADS,
    origin: e.DSTP_ORIGIN ?? `dstp.local/${e.DSTP_NETWORK}`,
    checkpointIntervalMs: e.DSTP_CHECKPOINT_INTERVAL_MS,
    otsCalendars: parseCalendars(e.DSTP_OTS_CALENDARS),
    otsIntervalMs: e.DSTP_OTS_INTERVAL_MS,
    otsUpgradeIntervalMs: e.DSTP_OTS_UPGRADE_INTERVAL_MS,
    otsTimeoutMs: e.DSTP_OTS_TIMEOUT_MS,
    log: e.DSTP_LOG,
    corsOrigins: parseCorsOrigins(e.DSTP_CORS_ORIGINS),
    webhookAllowPrivate: e.DSTP_WEBHOOK_ALLOW_PRIVATE,
    webhookMaxAttempts: e.DSTP_WEBHOOK_MAX_ATTEMPTS,
    webhookTimeoutMs: e.DSTP_WEBHOOK_TIMEOUT_MS,
    webhookConcurrency: e.DSTP_WEBHOOK_CONCURRENCY,
    webhookDisableAfterMs: e.DSTP_WEBHOOK_DISABLE_AFTER_MS,
    webhookIntervalMs: e.DSTP_WEBHOOK_INTERVAL_MS,
    webhookBackoffMs: e.DSTP_WEBHOOK_BACKOFF_MS,
    webhookBackoffMaxMs: Math.max(e.DSTP_WEBHOOK_BACKOFF_MAX_MS, e.DSTP_WEBHOOK_BACKOFF_MS),
    rateLimit: e.DSTP_RATE_LIMIT,
    senderRateLimit: e.DSTP_SENDER_RATE_LIMIT,
    peerRateLimit: e.DSTP_PEER_RATE_LIMIT,
    maxPendingPerSender: e.DSTP_MAX_PENDING_PER_SENDER,
    ...(e.DSTP_TRUST_PROXY ? { trustProxy: e.DSTP_TRUST_PROXY } : {}),
    trustedPeers: (e.DSTP_TRUSTED_PEERS ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
    eventsPollMs: e.DSTP_EVENTS_POLL_MS,
    eventsHeartbeatMs: e.DSTP_EVENTS_HEARTBEAT_MS,
    peerAllowPrivate: e.DSTP_PEER_ALLOW_PRIVATE,
    peerTimeoutMs: e.DSTP_PEER_TIMEOUT_MS,
    followIntervalMs: e.DSTP_FOLLOW_INTERVAL_MS,
    followWitnesses: (e.DSTP_FOLLOW_WITNESSES ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
  };
}

/** The public aggregators the OpenTimestamps client uses by default. */
export const DEFAULT_OTS_CALENDARS = [
  'https://a.pool.opentimestamps.org',
  'https://b.pool.opentimestamps.org',
  'https://a.pool.eternitywall.com',
  'https://ots.btc.catallaxy.com',
];

function parseCalendars(v: string | undefined): string[] {
  if (v === undefined) return [...DEFAULT_OTS_CALENDARS];
  const t = v.trim();
  if (t === '' || t === 'none') return [];
  const urls = t.split(',').map((u) => u.trim().replace(/\/+$/, ''));
  for (const u of urls) {
    if (!/^https?:\/\/[A-Za-z0-9.:_-]+(\/[A-Za-z0-9._\/-]*)?$/.test(u)) {
      throw new ConfigError(`invalid configuration:\n  DSTP_OTS_CALENDARS: "${u}" is not an http(s) calendar URL`);
    }
  }
  return [...new Set(urls)];
}

function parseCorsOrigins(v: string | undefined): '*' | string[] {
  const t = (v ?? '*').trim();
  if (t === '*') return '*';
  if (t === '' || t === 'none') return [];
  const origins = t.split(',').map((o) => o.trim().replace(/\/+$/, ''));
  for (const o of origins) {
    // What a browser sends in Origin: scheme://host[:port], nothing after it.
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(o)) {
      throw new ConfigError(`invalid configuration:\n  DSTP_CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port]), "*" or "none"`);
    }
  }
  return [...new Set(origins)];
}

/** `file:./data/dstp.db` → `./data`; remote databases keep local files in `./data`. */
function dataDirOf(url: string): string {
  if (!url.startsWith('file:')) return './data';
  const path = url.slice('file:'.length).split('?')[0] ?? '';
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? (slash === 0 ? '/' : '.') : path.slice(0, slash);
}
