import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { ChangeKey, ChangeTracker } from './change-tracker.js';
import type { PostgresNotifications } from './postgres-notifications.js';

/** The channel on which replicas tell each other what they changed. */
export const CHANGES_CHANNEL = 'flotilla_changes';

/** Payloads stay well under PostgreSQL's 8000-byte limit; a longer list says "anything". */
const MAX_PAYLOAD_CHARS = 7000;
const ANYTHING = '*';

/**
 * Connects a replica's change tracker to the others through PostgreSQL: every announcement is
 * sent with `pg_notify` on the writing connection (inside a transaction: delivered at its
 * commit), and what the others send is announced here. A payload is the sender's id, then the
 * keys, one per line; a replica ignores its own.
 */
export function shareChanges(tracker: ChangeTracker, notifications: PostgresNotifications): () => void {
  const self = randomUUID();
  tracker.broadcastWith(async (db, keys) => {
    let payload = [self, ...keys].join('\n');
    if (payload.length > MAX_PAYLOAD_CHARS) payload = `${self}\n${ANYTHING}`;
    await sql`select pg_notify(${CHANGES_CHANNEL}, ${payload})`.execute(db);
  });
  const stopHearing = notifications.on(CHANGES_CHANNEL, (payload) => {
    const [sender, ...keys] = payload.split('\n');
    if (sender === self) return;
    tracker.received(keys[0] === ANYTHING ? undefined : (keys as ChangeKey[]));
  });
  const stopWatching = notifications.onConnection((connected) => tracker.setListening(connected));
  return () => {
    stopHearing();
    stopWatching();
  };
}
