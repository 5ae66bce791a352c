import type { Timestamp } from '@bufbuild/protobuf';

/** A protobuf Timestamp (from the SDK's messages) as a Date, or undefined when unset. */
export function dateOf(ts: Pick<Timestamp, 'seconds' | 'nanos'> | undefined): Date | undefined {
  if (!ts) return undefined;
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  return ms > 0 ? new Date(ms) : undefined;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(date: Date | undefined, now = Date.now()): string {
  if (!date) return 'never';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Local date and time, to the second. */
export function when(date: Date | undefined): string {
  return date ? date.toLocaleString(undefined, { hour12: false }) : '—';
}
