import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadServerConfig, parseDuration, parseListen } from '../src/config.js';

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

  it('parses listen addresses and durations', () => {
    assert.deepEqual(parseListen('[::1]:8443', 'x'), { host: '::1', port: 8443 });
    assert.equal(parseDuration('90', 'x'), 90);
    assert.equal(parseDuration('30m', 'x'), 1800);
    assert.equal(parseDuration('24h', 'x'), 86400);
    assert.equal(parseDuration('7d', 'x'), 604800);
    assert.throws(() => parseDuration('0', 'x'), ConfigError);
  });
});
