import type { Db } from './db.js';

/** Names of the installation's stored facts. */
export type ServerSettingName = 'keys_fingerprint';

/** A stored fact about the installation; undefined if never written. */
export async function readServerSetting(db: Db, name: ServerSettingName): Promise<string | undefined> {
  const row = await db
    .selectFrom('server_settings')
    .select('value')
    .where('name', '=', name)
    .executeTakeFirst();
  return row?.value;
}

/**
 * Stores `value` under `name` unless a value is there already, and returns what is stored now:
 * replicas starting together agree on the first one written.
 */
export async function settleServerSetting(db: Db, name: ServerSettingName, value: string): Promise<string> {
  await db
    .insertInto('server_settings')
    .values({ name, value })
    .onConflict((c) => c.column('name').doNothing())
    .execute();
  return (await readServerSetting(db, name)) ?? value;
}

/** True once the database holds an organization: `flotilla init` has run on it. */
export async function isDatabaseInitialized(db: Db): Promise<boolean> {
  const row = await db.selectFrom('organizations').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}
