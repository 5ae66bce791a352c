import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from '@connectrpc/connect';
import { notFound } from '../src/domain/errors.js';
import { errorInterceptor } from '../src/rpc/interceptors.js';
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
});
