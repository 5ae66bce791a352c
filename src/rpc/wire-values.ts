import type { JsonValue, Struct } from '@bufbuild/protobuf';
import { appApi } from '@viamrobotics/sdk';
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

/** The SDK's own google.protobuf.Struct class (its runtime is bundled, so it is found through a field). */
const SdkStruct = (() => {
  const field = appApi.GetOrganizationMetadataResponse.fields.find(1);
  if (field?.kind !== 'message') throw new Error('the SDK has no Struct field where expected');
  return field.T;
})();

/** A JSON object as the SDK's google.protobuf.Struct message. */
export const structFromObject = (value: Record<string, unknown>): Struct =>
  // The SDK's messages are typed with @bufbuild/protobuf's Struct; at run time they need the SDK's class.
  SdkStruct.fromJson(value as JsonValue) as unknown as Struct;

/** A google.protobuf.Timestamp read as a Date. */
export function dateOf(ts: { seconds: bigint; nanos: number } | undefined): Date | undefined {
  if (!ts) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
}

/** A google.protobuf.Timestamp as microseconds since the epoch (nanoseconds below a microsecond dropped). */
export const microsOf = (ts: { seconds: bigint; nanos: number }): number =>
  Number(ts.seconds) * 1_000_000 + Math.floor(ts.nanos / 1000);

/** Microseconds since the epoch as a google.protobuf.Timestamp. */
export function timestampFromMicros(us: number): { seconds: bigint; nanos: number } {
  const seconds = Math.floor(us / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (us - seconds * 1_000_000) * 1000 };
}
