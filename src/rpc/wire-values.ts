import type { JsonValue, Struct } from '@bufbuild/protobuf';
import { appApi } from '@viamrobotics/sdk';
import { invalidArgument } from '../domain/errors.js';
import { isTimestampInRange } from '../domain/timestamp-range.js';

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

/**
 * A google.protobuf.Struct field read as a JSON object; absent reads as {}. A number that is NaN
 * or infinite has no JSON form, and a key `__proto__` would be dropped by the decoder (it sets
 * the object's prototype instead of a key): both are INVALID_ARGUMENT, as the config checks
 * refuse them too.
 */
export function structToObject(struct: { toJson(): JsonValue } | undefined): Record<string, unknown> {
  if (!struct) return {};
  checkStructValue(struct, 0);
  let value: JsonValue;
  try {
    value = struct.toJson();
  } catch (error) {
    throw invalidArgument(`a Struct value has no JSON form: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidArgument('expected a JSON object');
  return value;
}

const MAX_STRUCT_DEPTH = 100;

/** Walks a decoded Struct / Value / ListValue for what its JSON form would lose. */
function checkStructValue(node: unknown, depth: number): void {
  if (typeof node !== 'object' || node === null || depth > MAX_STRUCT_DEPTH) return;
  const fields = (node as { fields?: unknown }).fields;
  if (typeof fields === 'object' && fields !== null) {
    if (Object.getPrototypeOf(fields) !== Object.prototype && Object.getPrototypeOf(fields) !== null) {
      throw invalidArgument('a Struct key "__proto__" is not allowed');
    }
    for (const value of Object.values(fields)) checkStructValue(value, depth + 1);
    return;
  }
  const kind = (node as { kind?: { case?: string; value?: unknown } }).kind;
  if (kind?.case === 'numberValue' && !Number.isFinite(kind.value)) {
    throw invalidArgument('a Struct number is NaN or infinite, which JSON cannot hold');
  }
  if (kind?.case === 'structValue') checkStructValue(kind.value, depth + 1);
  if (kind?.case === 'listValue') {
    for (const item of (kind.value as { values?: unknown[] }).values ?? []) checkStructValue(item, depth + 1);
  }
}

/** INVALID_ARGUMENT for a Timestamp outside its documented range (or with nanos out of range). */
export function requireTimestampInRange(ts: { seconds: bigint; nanos: number }, field: string): void {
  if (!isTimestampInRange(ts.seconds, ts.nanos)) {
    throw invalidArgument(`${field} is outside the range of google.protobuf.Timestamp (years 1 to 9999)`);
  }
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

/** A google.protobuf.Timestamp read as a Date; INVALID_ARGUMENT outside the Timestamp range. */
export function dateOf(
  ts: { seconds: bigint; nanos: number } | undefined,
  field = 'timestamp',
): Date | undefined {
  if (!ts) return undefined;
  requireTimestampInRange(ts, field);
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
}

/**
 * A google.protobuf.Timestamp as microseconds since the epoch (nanoseconds below a microsecond
 * dropped), exactly, for a time filter; INVALID_ARGUMENT outside the Timestamp range.
 */
export function microsOf(ts: { seconds: bigint; nanos: number }, field = 'timestamp'): bigint {
  requireTimestampInRange(ts, field);
  return ts.seconds * 1_000_000n + BigInt(Math.floor(ts.nanos / 1000));
}

/** Microseconds since the epoch as a google.protobuf.Timestamp, exactly. */
export function timestampFromMicros(us: bigint): { seconds: bigint; nanos: number } {
  // Floor division: a time before the epoch has a negative second and nanos from 0 up.
  let seconds = us / 1_000_000n;
  let rest = us - seconds * 1_000_000n;
  if (rest < 0n) {
    seconds -= 1n;
    rest += 1_000_000n;
  }
  return { seconds, nanos: Number(rest) * 1000 };
}
