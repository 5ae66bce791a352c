import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from '@connectrpc/connect';
import { notFound } from '../src/domain/errors.js';
import { errorInterceptor, MAX_ERROR_MESSAGE_LENGTH } from '../src/rpc/interceptors.js';
import { createLogger } from '../src/server/logger.js';
import { AppService } from '../src/rpc/service-descriptors.generated.js';

const request = {
  service: AppService,
  method: AppService.methods.getOrganization,
} as unknown as UnaryRequest;

async function translated(thrown: Error) {
  const lines: string[] = [];
  const intercept = errorInterceptor(createLogger('error', (l) => lines.push(l)));
  const call = intercept(() => Promise.reject<UnaryResponse>(thrown));
  const error = await call(request).then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConnectError);
  return { error, lines };
}

describe('error translation', () => {
  it('gives a domain error its code and keeps its message', async () => {
    const { error, lines } = await translated(notFound('location not found'));
    assert.equal(error.code, Code.NotFound);
    assert.equal(error.rawMessage, 'location not found');
    assert.deepEqual(lines, []);
  });

  it('hides an unexpected error behind "internal error" and logs its cause with a request id', async () => {
    const { error, lines } = await translated(
      new Error('SQLITE_ERROR: no such column: secret_ciphertext in SELECT *'),
    );
    assert.equal(error.code, Code.Internal);
    assert.match(error.rawMessage, /^internal error \(request id [0-9a-f-]{36}\)$/);
    assert.doesNotMatch(error.rawMessage, /SQL|SELECT|secret|at /);
    assert.equal(lines.length, 1);
    const logged = JSON.parse(lines[0]!) as { request_id: string; error: string; procedure: string };
    assert.ok(error.rawMessage.includes(logged.request_id));
    assert.match(logged.error, /no such column/);
    assert.equal(logged.procedure, 'viam.app.v1.AppService/GetOrganization');
  });

  it('cuts every message to MAX_ERROR_MESSAGE_LENGTH, whatever input it repeats', async () => {
    const { error } = await translated(notFound(`no item ${'x'.repeat(70_000)}`));
    assert.equal(error.code, Code.NotFound);
    assert.ok(error.rawMessage.length <= MAX_ERROR_MESSAGE_LENGTH, `message of ${error.rawMessage.length}`);
    assert.match(error.rawMessage, /^no item x+… \(truncated\)$/);
  });

  it('a call its client cancelled is CANCELLED and logged at debug, not as a failure', async () => {
    const lines: string[] = [];
    const intercept = errorInterceptor(createLogger('debug', (l) => lines.push(l)));
    const controller = new AbortController();
    controller.abort();
    const call = intercept(() => Promise.reject<UnaryResponse>(new Error('The operation was aborted')));
    const error = await call({ ...request, signal: controller.signal }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Canceled);
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0]!) as { level: string }).level, 'debug');
  });
});
