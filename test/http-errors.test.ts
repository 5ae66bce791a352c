import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError, type ErrorKind } from '../src/domain/errors.js';
import { bearerTokenOf } from '../src/domain/bearer.js';
import { HTTP_STATUS, httpFailure } from '../src/server/http-errors.js';
import { createLogger } from '../src/server/logger.js';

/** The plain-HTTP routes' one error -> status mapping (`src/server/http-errors.ts`). */

function mapped(error: unknown, overrides = {}) {
  const lines: string[] = [];
  const failure = httpFailure(
    error,
    createLogger('debug', (l) => lines.push(l)),
    'test route',
    overrides,
  );
  return { failure, lines };
}

describe('httpFailure', () => {
  const expected: Record<ErrorKind, number> = {
    invalid_argument: 400,
    unauthenticated: 401,
    permission_denied: 403,
    not_found: 404,
    already_exists: 409,
    failed_precondition: 412,
    resource_exhausted: 429,
    unavailable: 503,
  };

  for (const [kind, status] of Object.entries(expected) as [ErrorKind, number][]) {
    it(`answers a ${kind} domain error with ${status} and its own message, logging nothing`, () => {
      const { failure, lines } = mapped(new DomainError(kind, `the ${kind} message`));
      assert.equal(failure.status, status);
      assert.equal(HTTP_STATUS[kind], status);
      assert.equal(failure.message, `the ${kind} message`);
      assert.equal(failure.kind, kind);
      assert.equal(failure.requestId, undefined);
      assert.deepEqual(lines, []);
    });
  }

  it('takes a route’s override for a kind, and the shared status for the others', () => {
    const overrides = { invalid_argument: 404 };
    assert.equal(mapped(new DomainError('invalid_argument', 'bad id'), overrides).failure.status, 404);
    assert.equal(mapped(new DomainError('permission_denied', 'no'), overrides).failure.status, 403);
  });

  it('hides any other error behind a 500 naming a request id, and logs it under that id', () => {
    const cause = new Error('SQLITE_ERROR: no such column: secret_ciphertext in SELECT *');
    const { failure, lines } = mapped(cause);
    assert.equal(failure.status, 500);
    assert.equal(failure.kind, undefined);
    assert.match(failure.message, /^internal error \(request id [0-9a-f-]{36}\)$/);
    assert.ok(failure.requestId && failure.message.includes(failure.requestId));
    assert.doesNotMatch(failure.message, /SQL|SELECT|secret|no such column|at /);
    assert.equal(lines.length, 1);
    const logged = JSON.parse(lines[0]!) as {
      level: string;
      message: string;
      request_id: string;
      error: string;
      route: string;
    };
    assert.equal(logged.level, 'error');
    assert.equal(logged.message, 'test route failed');
    assert.equal(logged.route, 'test route');
    assert.equal(logged.request_id, failure.requestId);
    assert.match(logged.error, /no such column/);
    assert.match(logged.error, /at /, 'the stack is logged');
  });

  it('treats thrown non-errors and overrides alike: 500, and a fresh request id each time', () => {
    const first = mapped('a string', { invalid_argument: 404 });
    const second = mapped(undefined);
    assert.equal(first.failure.status, 500);
    assert.equal(second.failure.status, 500);
    assert.notEqual(first.failure.requestId, second.failure.requestId);
    assert.match((JSON.parse(first.lines[0]!) as { error: string }).error, /a string/);
  });
});

describe('bearerTokenOf', () => {
  it('reads the token of a Bearer authorization, whatever the scheme’s case', () => {
    assert.equal(bearerTokenOf('Bearer abc.def'), 'abc.def');
    assert.equal(bearerTokenOf('bearer   abc'), 'abc');
    assert.equal(bearerTokenOf('BEARER abc'), 'abc');
  });

  it('reads nothing from a missing header, another scheme, an empty or spaced token', () => {
    for (const header of [undefined, null, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc']) {
      assert.equal(bearerTokenOf(header), undefined, String(header));
    }
  });
});
