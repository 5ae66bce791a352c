import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  DEFAULT_CONNECTION_LIMITS,
  loadServerConfig,
  parseDuration,
  parseListen,
  parseTimeoutMs,
} from '../src/config.js';

describe('server configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadServerConfig({}, {});
    assert.equal(c.dataDir, './data');
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.tokenTtlSeconds, 24 * 3600);
    assert.equal(c.domain, 'flotilla.local');
  });

  it('lets flags override environment variables', () => {
    const env = {
      FLOTILLA_LISTEN: '0.0.0.0:9000',
      FLOTILLA_DATA_DIR: '/env',
      FLOTILLA_DATABASE_URL: 'postgres://env/db',
    };
    const c = loadServerConfig(
      { listen: '127.0.0.1:0', dataDir: '/flag', databaseUrl: 'postgres://flag/db' },
      env,
    );
    assert.deepEqual(
      [c.host, c.port, c.dataDir, c.databaseUrl],
      ['127.0.0.1', 0, '/flag', 'postgres://flag/db'],
    );
    const fromEnv = loadServerConfig({}, env);
    assert.deepEqual([fromEnv.host, fromEnv.port, fromEnv.dataDir], ['0.0.0.0', 9000, '/env']);
  });

  it('names the setting that is wrong', () => {
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_LISTEN: 'nope' }),
      (e: Error) => e instanceof ConfigError && /FLOTILLA_LISTEN/.test(e.message),
    );
    assert.throws(() => loadServerConfig({ listen: 'x:99999' }, {}), /--listen/);
    assert.throws(() => loadServerConfig({}, { FLOTILLA_TOKEN_TTL: 'soon' }), /FLOTILLA_TOKEN_TTL/);
    assert.throws(() => loadServerConfig({}, { FLOTILLA_LOG_LEVEL: 'loud' }), /FLOTILLA_LOG_LEVEL/);
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_DATABASE_URL: 'mysql://x' }),
      /FLOTILLA_DATABASE_URL/,
    );
    assert.throws(() => loadServerConfig({ tlsCert: 'cert.pem' }, {}), /--tls-key/);
  });

  it('audit retention: a year by default, a duration when set', () => {
    assert.equal(loadServerConfig({}, {}).auditMaxAgeSeconds, 365 * 86_400);
    assert.equal(loadServerConfig({}, { FLOTILLA_AUDIT_MAX_AGE: '90d' }).auditMaxAgeSeconds, 90 * 86_400);
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_AUDIT_MAX_AGE: 'forever' }),
      /FLOTILLA_AUDIT_MAX_AGE/,
    );
  });

  it('machine caches, access writes and the lean path: defaults and validation', () => {
    const sqlite = loadServerConfig({}, {});
    assert.deepEqual(
      [sqlite.machineCacheEntries, sqlite.accessFlushMs, sqlite.machineFastPath],
      [50_000, 2_000, true],
    );
    // Replicas on PostgreSQL tell each other what changed: the caches are on there too.
    assert.equal(loadServerConfig({ databaseUrl: 'postgres://h/db' }, {}).machineCacheEntries, 50_000);
    const set = loadServerConfig(
      { databaseUrl: 'postgres://h/db' },
      {
        FLOTILLA_MACHINE_CACHE_ENTRIES: '1000',
        FLOTILLA_ACCESS_FLUSH_INTERVAL: '500ms',
        FLOTILLA_MACHINE_FAST_PATH: 'off',
      },
    );
    assert.deepEqual([set.machineCacheEntries, set.accessFlushMs, set.machineFastPath], [1000, 500, false]);
    assert.equal(loadServerConfig({}, { FLOTILLA_MACHINE_CACHE_ENTRIES: '0' }).machineCacheEntries, 0);
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_MACHINE_CACHE_ENTRIES: '-1' }),
      /FLOTILLA_MACHINE_CACHE_ENTRIES/,
    );
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_MACHINE_FAST_PATH: 'yes' }),
      /FLOTILLA_MACHINE_FAST_PATH/,
    );
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_ACCESS_FLUSH_INTERVAL: 'often' }),
      /FLOTILLA_ACCESS_FLUSH_INTERVAL/,
    );
  });

  it('parses listen addresses and durations', () => {
    assert.deepEqual(parseListen('[::1]:8443', 'x'), { host: '::1', port: 8443 });
    assert.equal(parseDuration('90', 'x'), 90);
    assert.equal(parseDuration('30m', 'x'), 1800);
    assert.equal(parseDuration('24h', 'x'), 86400);
    assert.equal(parseDuration('7d', 'x'), 604800);
    assert.throws(() => parseDuration('0', 'x'), ConfigError);
  });

  it('connection timeouts and limits: defaults, units, validation', () => {
    assert.deepEqual(loadServerConfig({}, {}).connections, {
      firstByteTimeoutMs: 10_000,
      headersTimeoutMs: 30_000,
      requestTimeoutMs: 300_000,
      keepAliveTimeoutMs: 5_000,
      http2IdleTimeoutMs: 120_000,
      bodyIdleTimeoutMs: 60_000,
      maxConcurrentStreams: 100,
      stalledStreamGraceMs: 30_000,
    });
    assert.deepEqual(loadServerConfig({}, {}).connections, DEFAULT_CONNECTION_LIMITS);
    const c = loadServerConfig(
      {},
      {
        FLOTILLA_FIRST_BYTE_TIMEOUT: '500ms',
        FLOTILLA_HEADERS_TIMEOUT: '2',
        FLOTILLA_REQUEST_TIMEOUT: '1m',
        FLOTILLA_KEEP_ALIVE_TIMEOUT: '65s',
        FLOTILLA_HTTP2_IDLE_TIMEOUT: '1h',
        FLOTILLA_BODY_IDLE_TIMEOUT: '90s',
        FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS: '250',
        FLOTILLA_STALLED_STREAM_GRACE: '10s',
      },
    ).connections;
    assert.deepEqual(c, {
      firstByteTimeoutMs: 500,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 65_000,
      http2IdleTimeoutMs: 3_600_000,
      bodyIdleTimeoutMs: 90_000,
      maxConcurrentStreams: 250,
      stalledStreamGraceMs: 10_000,
    });
    assert.equal(parseTimeoutMs(' 7d ', 1, 'x'), 7 * 86_400_000);
    assert.equal(parseTimeoutMs('', 42, 'x'), 42);
    for (const name of [
      'FLOTILLA_FIRST_BYTE_TIMEOUT',
      'FLOTILLA_HEADERS_TIMEOUT',
      'FLOTILLA_REQUEST_TIMEOUT',
      'FLOTILLA_KEEP_ALIVE_TIMEOUT',
      'FLOTILLA_HTTP2_IDLE_TIMEOUT',
      'FLOTILLA_BODY_IDLE_TIMEOUT',
      'FLOTILLA_STALLED_STREAM_GRACE',
    ]) {
      for (const bad of ['soon', '0', '0ms', '-5s', '1.5s', '30d']) {
        assert.throws(
          () => loadServerConfig({}, { [name]: bad }),
          (e: Error) => e instanceof ConfigError && e.message.startsWith(name),
          `${name}=${bad}`,
        );
      }
    }
    for (const bad of ['0', '-1', '1.5', 'many', '4294967296']) {
      assert.throws(
        () => loadServerConfig({}, { FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS: bad }),
        /FLOTILLA_HTTP2_MAX_CONCURRENT_STREAMS/,
      );
    }
    // Node refuses a header timeout longer than the request it belongs to.
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_HEADERS_TIMEOUT: '10m' }),
      /FLOTILLA_HEADERS_TIMEOUT must not be longer than FLOTILLA_REQUEST_TIMEOUT/,
    );
  });
});
