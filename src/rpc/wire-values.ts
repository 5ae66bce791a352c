import type { JsonValue } from '@bufbuild/protobuf';
import { invalidArgument } from '../domain/errors.js';

/**
 * Helpers between domain values and the SDK's generated messages. Nested well-known types are
 * passed as plain objects so the SDK's classes build them (its runtime is bundled separately,
 * so its classes are not ours).
 */
export function timestamp(date: Date): { seconds: bigint; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** A google.protobuf.Struct field read as a JSON object; absent reads as {}. */
export function structToObject(struct: { toJson(): JsonValue } | undefined): Record<string, unknown> {
  if (!struct) return {};
  const value = struct.toJson();
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidArgument('expected a JSON object');
  return value;
}
