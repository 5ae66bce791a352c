import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../src/domain/errors.js';
import { newApiKeyValue, newLocationId } from '../src/domain/ids.js';
import {
  boundedText,
  requireEmail,
  requireName,
  requireNamespace,
  serializeMetadata,
} from '../src/domain/validation.js';

const invalid = (fn: () => unknown) =>
  assert.throws(fn, (e: unknown) => e instanceof DomainError && e.kind === 'invalid_argument');

describe('validation', () => {
  it('accepts namespaces of lowercase letters, digits and dashes only', () => {
    for (const ok of ['acme', 'acme-robotics', 'a1', '9lives', 'a'.repeat(63)])
      assert.equal(requireNamespace(ok), ok);
    for (const bad of ['', 'Acme', 'acme_robotics', '-acme', 'acme-', 'ac me', 'a'.repeat(64), 'acmé']) {
      invalid(() => requireNamespace(bad));
    }
  });

  it('trims names and refuses empty or overlong ones', () => {
    assert.equal(requireName('  Yard ', 'name'), 'Yard');
    invalid(() => requireName('   ', 'name'));
    invalid(() => requireName('x'.repeat(257), 'name'));
  });

  it('lowercases emails and refuses malformed ones', () => {
    assert.equal(requireEmail(' Ops@Example.COM '), 'ops@example.com');
    invalid(() => requireEmail('ops'));
    invalid(() => requireEmail('a b@c'));
  });

  it('bounds metadata size', () => {
    assert.equal(serializeMetadata({ a: 1 }), '{"a":1}');
    invalid(() => serializeMetadata({ big: 'x'.repeat(70 * 1024) }));
  });

  it('makes ids of the documented shapes', () => {
    assert.match(newLocationId(), /^[a-z0-9]{10}$/);
    assert.match(newApiKeyValue(), /^[a-z0-9]{32}$/);
    assert.notEqual(newApiKeyValue(), newApiKeyValue());
  });
});

describe('free-text fields', () => {
  it('accept empty values and refuse overlong ones', () => {
    assert.equal(boundedText('', 'region'), '');
    assert.equal(boundedText('us-east', 'region'), 'us-east');
    invalid(() => boundedText('r'.repeat(257), 'region'));
  });
});
