/**
 * Durations: Go duration strings in ("10s", "1m30s", "500ms", as viam-server's config reads
 * them), protobuf JSON Duration strings out ("90s", "0.5s").
 */
import { child, fail, get, type JsonObject } from './json.js';

const NANOS_PER_UNIT: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const DURATION = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const DURATION_PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g;
const MAX_GO_DURATION = 2n ** 63n - 1n;

/** Parses a Go duration string ("1m30s", "500ms", "0") into nanoseconds, or undefined. */
export function parseGoDuration(text: string): bigint | undefined {
  if (!/^[-+]?0$/.test(text) && !DURATION.test(text)) return undefined;
  const negative = text.startsWith('-');
  let total = 0n;
  for (const [, whole = '', fraction = '', unit = ''] of text.matchAll(DURATION_PART)) {
    const scale = NANOS_PER_UNIT[unit] ?? 0n;
    total += BigInt(whole || '0') * scale;
    if (fraction !== '') total += (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length);
  }
  if (total > MAX_GO_DURATION + (negative ? 1n : 0n)) return undefined;
  return negative ? -total : total;
}

/** Nanoseconds as a protobuf JSON Duration: "90s", "0.5s", "-1.25s". */
export function formatProtoDuration(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const abs = nanos < 0n ? -nanos : nanos;
  const seconds = abs / 1_000_000_000n;
  const rest = abs % 1_000_000_000n;
  const fraction = rest === 0n ? '' : `.${rest.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${sign}${seconds}${fraction}s`;
}

/** A Go duration field in nanoseconds; absent, null or "" gives undefined. */
export function durationNanos(obj: JsonObject, key: string, path: string): bigint | undefined {
  const value = get(obj, key);
  if (value === undefined || value === '') return undefined;
  const nanos = typeof value === 'string' ? parseGoDuration(value) : undefined;
  if (nanos === undefined) fail(child(path, key), 'must be a duration like "10s"');
  return nanos;
}

/** A Go duration field as a protobuf JSON Duration. */
export function duration(obj: JsonObject, key: string, path: string): string | undefined {
  const nanos = durationNanos(obj, key, path);
  return nanos === undefined ? undefined : formatProtoDuration(nanos);
}
