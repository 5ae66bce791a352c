import type { Db } from './db.js';
import type { JsonObject } from './records.js';

/** The tables that carry a user-defined metadata document, by the resource they hold. */
const TABLES = {
  organization: 'organizations',
  location: 'locations',
  robot: 'robots',
  part: 'robot_parts',
} as const;

export type MetadataHolder = keyof typeof TABLES;

/**
 * User-defined metadata (a JSON object, stored as text) kept beside each organization, location,
 * machine and part.
 */
export class MetadataRepository {
  /** The document, or undefined if the holder does not exist. */
  async get(db: Db, holder: MetadataHolder, id: string): Promise<JsonObject | undefined> {
    const row = await db
      .selectFrom(TABLES[holder])
      .select('metadata')
      .where('id', '=', id)
      .executeTakeFirst();
    return row && (JSON.parse(row.metadata) as JsonObject);
  }

  /** Replaces the document (its size is the service's to check, see serializeMetadata). */
  async set(db: Db, holder: MetadataHolder, id: string, metadata: JsonObject): Promise<void> {
    await db
      .updateTable(TABLES[holder])
      .set({ metadata: JSON.stringify(metadata) })
      .where('id', '=', id)
      .execute();
  }
}
