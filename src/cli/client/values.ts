import type { Timestamp } from '@bufbuild/protobuf';

/** A Timestamp as an ISO-8601 string ('' when absent). */
export const isoOf = (t: Timestamp | undefined): string => (t ? t.toDate().toISOString() : '');

/** How long ago a time was, for people: `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function ago(iso: string, now = Date.now()): string {
  if (iso === '') return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}
