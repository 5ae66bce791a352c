import type { Db } from './db.js';

/** The tables that carry a user-defined metadata document, by the resource they hold. */
const TABLES = {
  organization: 'organizations',
  location: 'locations',
  robot: 'robots',
  part: 'robot_parts',
} as const;

export type MetadataHolder = keyof typeof TABLES;

/** User-defined metadata (a JSON object as text) kept beside each organization, location, machine and part. */
export class MetadataRepository {
  /** The serialized document, or undefined if the holder does not exist. */
  async get(db: Db, holder: MetadataHolder, id: string): Promise<string | undefined> {
    const row = await db
      .selectFrom(TABLES[holder])
      .select('metadata')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.metadata;
  }

  async set(db: Db, holder: MetadataHolder, id: string, metadata: string): Promise<void> {
    await db.updateTable(TABLES[holder]).set({ metadata }).where('id', '=', id).execute();
  }
}
