/**
 * google.protobuf.Timestamp's documented range, 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999999Z: in seconds since the epoch (safe integers), with nanos from 0 to
 * 999,999,999. Every time Flotilla accepts lies within it.
 */
export const MIN_TIMESTAMP_SECONDS = -62_135_596_800;
export const MAX_TIMESTAMP_SECONDS = 253_402_300_799;

/** Whether seconds and nanos make a Timestamp within that range. */
export function isTimestampInRange(seconds: number | bigint, nanos: number): boolean {
  return (
    seconds >= MIN_TIMESTAMP_SECONDS && seconds <= MAX_TIMESTAMP_SECONDS && nanos >= 0 && nanos <= 999_999_999
  );
}
