import type { ConnectionLimits } from './server/listener.js';
import { LOG_LEVELS, type LogLevel } from './server/logger.js';
import type { LogRetention } from './store/part-log-store.js';
import { DEFAULT_POOL_SETTINGS, type PoolSettings } from './store/database.js';
import { DEFAULT_ALERT_SETTINGS, type AlertSettings } from './services/alert-service.js';

/** Everything the server is configured with, validated once at start. */
export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  databaseUrl: string | undefined;
  /** The PostgreSQL connection pool (unused on SQLite). */
  databasePool: PoolSettings;
  tls: { certFile: string; keyFile: string } | undefined;
  tokenTtlSeconds: number;
  logLevel: LogLevel;
  /** FLOTILLA_PUBLIC_URL with an explicit port (`https://fleet.example.com:443`), if set. */
  publicUrl: string | undefined;
  /** SMTP server for invite mails (`smtp://user:pass@host:587`, `smtps://…`); unset: links are logged. */
  smtpUrl: string | undefined;
  /** The built web console to serve at `/` (FLOTILLA_CONSOLE_DIR); undefined: the one `npm run build` made. */
  consoleDir: string | undefined;
  domain: string;
  /** Largest request message accepted, in bytes. */
  readMaxBytes: number;
  /** How long shutdown waits for calls in flight, in milliseconds. */
  shutdownGraceMs: number;
  /** How often machines should ask whether to restart, in seconds. */
  restartCheckIntervalSeconds: number;
  /** How long and how many machine log entries are kept. */
  logRetention: LogRetention;
  /** Most log entries a live tail may have waiting for a slow client before it is stopped. */
  logTailBuffer: number;
  /** Audit events older than this are deleted, in seconds (FLOTILLA_AUDIT_MAX_AGE). */
  auditMaxAgeSeconds: number;
  /** Largest module file or package accepted by UploadModuleFile and CreatePackage, in bytes. */
  moduleFileMaxBytes: number;
  /** How long a signed package download URL stays valid, in seconds. */
  packageUrlTtlSeconds: number;
  /** Timeouts and limits of every connection to the port. */
  connections: ConnectionLimits;
  /**
   * Parts whose served config and restart answer, and tokens whose check, are kept in memory; 0
   * keeps none. On PostgreSQL, replicas tell each other what changed (postgres-change-feed.ts).
   */
  machineCacheEntries: number;
  /** How often machines' last calls are written to the database, in milliseconds. */
  accessFlushMs: number;
  /** Whether native gRPC calls of machines take the lean path (lean-grpc.ts) instead of the framework. */
  machineFastPath: boolean;
  /** Machine alerts: when a part counts as offline, how failed deliveries are retried. */
  alerts: AlertSettings;
  /** Where Prometheus metrics are served (FLOTILLA_METRICS_LISTEN, `HOST:PORT`); undefined: not at all. */
  metricsListen: { host: string; port: number } | undefined;
}

/** Flags given on the command line; each overrides its environment variable. */
export interface ServerFlags {
  dataDir?: string | undefined;
  listen?: string | undefined;
  databaseUrl?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/** A configuration problem, reported with the setting's name; the CLI prints it and exits. */
export class ConfigError extends Error {}

export const DEFAULT_LISTEN = '127.0.0.1:8080';
export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_TOKEN_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_LOG_MAX_AGE_SECONDS = 30 * 24 * 60 * 60;
export const DEFAULT_LOG_MAX_ENTRIES_PER_PART = 1_000_000;
export const DEFAULT_LOG_RETENTION_INTERVAL_SECONDS = 60;
export const DEFAULT_LOG_TAIL_BUFFER = 10_000;
export const DEFAULT_AUDIT_MAX_AGE_SECONDS = 365 * 86_400;
export const DEFAULT_MODULE_FILE_MAX_BYTES = 512 * 1024 * 1024;
export const DEFAULT_PACKAGE_URL_TTL_SECONDS = 60 * 60;
export const DEFAULT_MACHINE_CACHE_ENTRIES = 50_000;
export const DEFAULT_ACCESS_FLUSH_MS = 2_000;
/** Connection timeouts (milliseconds) and limits; see ConnectionLimits. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  firstByteTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 5 * 60_000,
  keepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 2 * 60_000,
  bodyIdleTimeoutMs: 60_000,
  maxConcurrentStreams: 100,
  stalledStreamGraceMs: 30_000,
};

/** The data directory: flag, then FLOTILLA_DATA_DIR, then ./data. */
export const resolveDataDir = (flag: string | undefined, env: NodeJS.ProcessEnv): string =>
  flag ?? env.FLOTILLA_DATA_DIR ?? DEFAULT_DATA_DIR;

/** Parses `HOST:PORT` (`[::1]:PORT` for IPv6). */
export function parseListen(value: string, name: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new ConfigError(`${name} must be HOST:PORT, got "${value}"`);
  return { host: match[1] ?? match[2] ?? '', port };
}

/** A duration such as `3600`, `90s`, `30m`, `24h` or `7d`, in seconds. */
export function parseDuration(value: string, name: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (!match) throw new ConfigError(`${name} must be a duration like 3600, 30m, 24h or 7d, got "${value}"`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  if (seconds < 1) throw new ConfigError(`${name} must be at least one second`);
  return seconds;
}

/** Longest timer Node schedules (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A timeout such as `500ms`, `10`, `30s`, `2m` or `1h`, in milliseconds (a bare number is
 * seconds, as for the other durations); unset or empty: `fallback`.
 */
export function parseTimeoutMs(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const match = /^(\d+)\s*(ms|[smhd]?)$/.exec(value.trim());
  if (!match) throw new ConfigError(`${name} must be a duration like 500ms, 10s, 2m or 1h, got "${value}"`);
  const unit = { ms: 1, '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 'ms' | '' | 's' | 'm' | 'h' | 'd'
  ];
  const ms = Number(match[1]) * unit;
  if (ms < 1) throw new ConfigError(`${name} must be longer than zero`);
  if (ms > MAX_TIMER_MS) throw new ConfigError(`${name} must be at most 24d, got "${value}"`);
  return ms;
}

/** FLOTILLA_* connection timeouts and limits (see ConnectionLimits and the README). */
function connectionLimits(env: NodeJS.ProcessEnv): ConnectionLimits {
  const d = DEFAULT_CONNECTION_LIMITS;
  const limits: ConnectionLimits = {
    firstByteTimeoutMs: parseTimeoutMs(
      env.FLOTILLA_FIRST_BYTE_TIMEOUT,
      d.firstByteTimeoutMs,
      'FLOTILLA_FIRST_BYTE_TIMEOUT',
    ),
    headersTimeoutMs: parseTimeoutMs(
      env.FLOTILLA_HEADERS_TIMEOUT,
      d.headersTimeoutMs,
      'FLOTILLA_HEADERS_TIMEOUT',
    ),
    requestTimeoutMs: parseTimeoutMs(
      env.FLOTILLA_REQUEST_TIMEOUT,
      d.requestTimeoutMs,
      'FLOTILLA_REQUEST_TIMEOUT',
    ),
    keepAliveTimeoutMs: parseTimeoutMs(
      env.FLOTILLA_KEEP_ALIVE_TIMEOUT,
      d.keepAliveTimeoutMs,
      'FLOTILLA_KEEP_ALIVE_TIMEOUT',
    ),
    http2IdleTimeoutMs: parseTimeoutMs(
      env.FLOTILLA_HTTP2_IDLE_TIMEOUT,
      d.http2IdleTimeoutMs,
      'FLOTILLA_HTTP2_IDLE_TIMEOUT',
    ),
    bodyIdleTimeoutMs: parseTimeoutMs(
      env.FLOTILLA_BODY_IDLE_TIMEOUT,
      d.bodyIdleTimeoutMs,
      'FLOTILLA_BODY_IDLE_TIMEOUT',
    ),
    maxConcurrentStreams: positiveInt(
      env.FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS,
      d.maxConcurrentStreams,
      'FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS',
    ),
    stalledStreamGraceMs: parseTimeoutMs(
      env.FLOTILLA_STALLED_STREAM_GRACE,
      d.stalledStreamGraceMs,
      'FLOTILLA_STALLED_STREAM_GRACE',
    ),
  };
  // Node refuses a header timeout longer than the request timeout it is part of.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError('FLOTILLA_HEADERS_TIMEOUT must not be longer than FLOTILLA_REQUEST_TIMEOUT');
  }
  // HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS is a 32-bit value.
  if (limits.maxConcurrentStreams > 0xffff_ffff) {
    throw new ConfigError('FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS must be at most 4294967295');
  }
  return limits;
}

function nonNegativeInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`${name} must be zero or a positive integer, got "${value}"`);
  return n;
}

function onOff(value: string | undefined, fallback: boolean, name: string): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new ConfigError(`${name} must be on or off, got "${value}"`);
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

/**
 * FLOTILLA_PUBLIC_URL as machines need it: an http(s) URL without query or fragment, always with
 * a port (viam-server dials `host:port`), the scheme's default added when none is given, and no
 * trailing slash.
 */
export function normalizePublicUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new ConfigError(
      `FLOTILLA_PUBLIC_URL must be an http:// or https:// URL such as https://fleet.example.com, got "${value}"`,
    );
  }
  if (url.username || url.password)
    throw new ConfigError('FLOTILLA_PUBLIC_URL must not carry a user or password');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.protocol}//${url.hostname}:${port}${url.pathname.replace(/\/+$/, '')}`;
}

/** Whether a listen host accepts connections on every address (so it names no address to give out). */
export const isWildcardHost = (host: string): boolean =>
  host === '' || host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';

/** `http(s)://HOST:PORT` of a listen address. */
export function listenUrl(host: string, port: number, tls: boolean): string {
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${hostForUrl}:${port}`;
}

/**
 * The URL machines and invitees are given: FLOTILLA_PUBLIC_URL, else the listen address unless
 * that is a wildcard (`0.0.0.0`, `::`), which names no reachable address: then empty, and what
 * needs a URL asks for FLOTILLA_PUBLIC_URL.
 */
export const publicUrlFor = (config: ServerConfig, port: number): string =>
  config.publicUrl ??
  (isWildcardHost(config.host) ? '' : listenUrl(config.host, port, config.tls !== undefined));

/** FLOTILLA_OFFLINE_AFTER, FLOTILLA_ALERT_RETRY_WINDOW and FLOTILLA_ALERT_RETRY_DELAY. */
function alertSettings(env: NodeJS.ProcessEnv, accessFlushMs: number): AlertSettings {
  const d = DEFAULT_ALERT_SETTINGS;
  const offlineAfterMs = parseTimeoutMs(
    env.FLOTILLA_OFFLINE_AFTER,
    d.offlineAfterMs,
    'FLOTILLA_OFFLINE_AFTER',
  );
  // Calls reach the database only every flush interval: a shorter wait would see parts that
  // are calling (another replica) as offline.
  if (env.FLOTILLA_OFFLINE_AFTER && offlineAfterMs <= accessFlushMs) {
    throw new ConfigError('FLOTILLA_OFFLINE_AFTER must be longer than FLOTILLA_ACCESS_FLUSH_INTERVAL');
  }
  return {
    offlineAfterMs,
    retryWindowMs: parseTimeoutMs(
      env.FLOTILLA_ALERT_RETRY_WINDOW,
      d.retryWindowMs,
      'FLOTILLA_ALERT_RETRY_WINDOW',
    ),
    retryDelayMs: parseTimeoutMs(
      env.FLOTILLA_ALERT_RETRY_DELAY,
      d.retryDelayMs,
      'FLOTILLA_ALERT_RETRY_DELAY',
    ),
  };
}

function smtpUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!/^smtps?:\/\/[^/]/.test(value)) {
    throw new ConfigError('FLOTILLA_SMTP_URL must be an smtp:// or smtps:// URL');
  }
  return value;
}

/** Flags override environment variables override defaults. */
export function loadServerConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const listenName = flags.listen !== undefined ? '--listen' : 'FLOTILLA_LISTEN';
  const { host, port } = parseListen(flags.listen ?? env.FLOTILLA_LISTEN ?? DEFAULT_LISTEN, listenName);
  const logLevel = (env.FLOTILLA_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`FLOTILLA_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const certFile = flags.tlsCert ?? env.FLOTILLA_TLS_CERT;
  const keyFile = flags.tlsKey ?? env.FLOTILLA_TLS_KEY;
  if (Boolean(certFile) !== Boolean(keyFile))
    throw new ConfigError('--tls-cert and --tls-key must be given together');
  const databaseUrl = flags.databaseUrl ?? (env.FLOTILLA_DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('FLOTILLA_DATABASE_URL (--database-url) must be a postgres:// URL');
  }
  return {
    dataDir: resolveDataDir(flags.dataDir, env),
    host,
    port,
    databaseUrl,
    databasePool: {
      max: positiveInt(
        env.FLOTILLA_DATABASE_POOL_SIZE,
        DEFAULT_POOL_SETTINGS.max,
        'FLOTILLA_DATABASE_POOL_SIZE',
      ),
      connectTimeoutMs: parseTimeoutMs(
        env.FLOTILLA_DATABASE_CONNECT_TIMEOUT,
        DEFAULT_POOL_SETTINGS.connectTimeoutMs,
        'FLOTILLA_DATABASE_CONNECT_TIMEOUT',
      ),
    },
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    tokenTtlSeconds: env.FLOTILLA_TOKEN_TTL
      ? parseDuration(env.FLOTILLA_TOKEN_TTL, 'FLOTILLA_TOKEN_TTL')
      : DEFAULT_TOKEN_TTL_SECONDS,
    logLevel,
    publicUrl: normalizePublicUrl(env.FLOTILLA_PUBLIC_URL),
    smtpUrl: smtpUrl(env.FLOTILLA_SMTP_URL),
    consoleDir: env.FLOTILLA_CONSOLE_DIR || undefined,
    domain: env.FLOTILLA_DOMAIN || 'flotilla.local',
    readMaxBytes: positiveInt(env.FLOTILLA_MAX_MESSAGE_BYTES, 4 * 1024 * 1024, 'FLOTILLA_MAX_MESSAGE_BYTES'),
    shutdownGraceMs: positiveInt(env.FLOTILLA_SHUTDOWN_GRACE_MS, 10_000, 'FLOTILLA_SHUTDOWN_GRACE_MS'),
    restartCheckIntervalSeconds: env.FLOTILLA_RESTART_CHECK_INTERVAL
      ? parseDuration(env.FLOTILLA_RESTART_CHECK_INTERVAL, 'FLOTILLA_RESTART_CHECK_INTERVAL')
      : 5,
    logRetention: {
      maxAgeSeconds: env.FLOTILLA_LOG_MAX_AGE
        ? parseDuration(env.FLOTILLA_LOG_MAX_AGE, 'FLOTILLA_LOG_MAX_AGE')
        : DEFAULT_LOG_MAX_AGE_SECONDS,
      maxEntriesPerPart: positiveInt(
        env.FLOTILLA_LOG_MAX_ENTRIES_PER_PART,
        DEFAULT_LOG_MAX_ENTRIES_PER_PART,
        'FLOTILLA_LOG_MAX_ENTRIES_PER_PART',
      ),
      intervalMs:
        1000 *
        (env.FLOTILLA_LOG_RETENTION_INTERVAL
          ? parseDuration(env.FLOTILLA_LOG_RETENTION_INTERVAL, 'FLOTILLA_LOG_RETENTION_INTERVAL')
          : DEFAULT_LOG_RETENTION_INTERVAL_SECONDS),
    },
    logTailBuffer: positiveInt(
      env.FLOTILLA_LOG_TAIL_BUFFER,
      DEFAULT_LOG_TAIL_BUFFER,
      'FLOTILLA_LOG_TAIL_BUFFER',
    ),
    auditMaxAgeSeconds: env.FLOTILLA_AUDIT_MAX_AGE
      ? parseDuration(env.FLOTILLA_AUDIT_MAX_AGE, 'FLOTILLA_AUDIT_MAX_AGE')
      : DEFAULT_AUDIT_MAX_AGE_SECONDS,
    moduleFileMaxBytes: positiveInt(
      env.FLOTILLA_MODULE_FILE_MAX_BYTES,
      DEFAULT_MODULE_FILE_MAX_BYTES,
      'FLOTILLA_MODULE_FILE_MAX_BYTES',
    ),
    packageUrlTtlSeconds: env.FLOTILLA_PACKAGE_URL_TTL
      ? parseDuration(env.FLOTILLA_PACKAGE_URL_TTL, 'FLOTILLA_PACKAGE_URL_TTL')
      : DEFAULT_PACKAGE_URL_TTL_SECONDS,
    connections: connectionLimits(env),
    machineCacheEntries: nonNegativeInt(
      env.FLOTILLA_MACHINE_CACHE_ENTRIES,
      DEFAULT_MACHINE_CACHE_ENTRIES,
      'FLOTILLA_MACHINE_CACHE_ENTRIES',
    ),
    accessFlushMs: parseTimeoutMs(
      env.FLOTILLA_ACCESS_FLUSH_INTERVAL,
      DEFAULT_ACCESS_FLUSH_MS,
      'FLOTILLA_ACCESS_FLUSH_INTERVAL',
    ),
    machineFastPath: onOff(env.FLOTILLA_MACHINE_FAST_PATH, true, 'FLOTILLA_MACHINE_FAST_PATH'),
    alerts: alertSettings(
      env,
      parseTimeoutMs(
        env.FLOTILLA_ACCESS_FLUSH_INTERVAL,
        DEFAULT_ACCESS_FLUSH_MS,
        'FLOTILLA_ACCESS_FLUSH_INTERVAL',
      ),
    ),
    metricsListen: env.FLOTILLA_METRICS_LISTEN
      ? parseListen(env.FLOTILLA_METRICS_LISTEN, 'FLOTILLA_METRICS_LISTEN')
      : undefined,
  };
}
