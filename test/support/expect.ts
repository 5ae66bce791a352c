import assert from 'node:assert/strict';
import type { Code } from '@connectrpc/connect';

/** Asserts that the call is refused with this Connect code (SDK errors carry a numeric `code`). */
export async function expectCode(call: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(call, (error: Error & { code?: unknown }) => {
    assert.equal(error.code, code, `expected code ${code}, got ${String(error.code)}: ${error.message}`);
    return true;
  });
}

/** The value, asserted present (the SDK answers `T | undefined` where the API always sends one). */
export function defined<T>(value: T | undefined, what: string): T {
  assert.ok(value, `expected ${what}`);
  return value;
}
