import { failedPrecondition } from './errors.js';

/**
 * Optimistic updates of parts and fragments: a caller that names when it last read an object
 * (`last_known_update`) only changes it if nobody changed it since.
 */
export function requireUnchangedSince(
  what: 'part' | 'fragment',
  updatedAt: string,
  lastKnown: Date | undefined,
): void {
  if (lastKnown && new Date(updatedAt).getTime() !== lastKnown.getTime()) {
    throw failedPrecondition(`the ${what} changed since last_known_update; read it again and retry`);
  }
}

/**
 * The time of a new update: now, but strictly after the previous one, so last_known_update and
 * history order never tie.
 */
export const nextUpdateTime = (previous: string): string =>
  new Date(Math.max(Date.now(), new Date(previous).getTime() + 1)).toISOString();
