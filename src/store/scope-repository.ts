import { sql } from 'kysely';
import type { Db } from './db.js';

/** A location and the link to its parent, as the ancestry query returns them. */
export interface LocationLink {
  id: string;
  parentLocationId: string | undefined;
  organizationId: string;
}

/**
 * The lookups that place a resource in the tree roles are held on: a location's ancestors (one
 * recursive query), the organizations a location is shared with, the organizations of parts.
 */
export class ScopeRepository {
  /** The location and its ancestors, nearest first; empty if the location does not exist. */
  async locationAncestry(db: Db, locationId: string): Promise<LocationLink[]> {
    const rows = await db
      .withRecursive('ancestry(id, parent_location_id, organization_id, depth)', (qb) =>
        qb
          .selectFrom('locations')
          .select(['id', 'parent_location_id', 'organization_id'])
          // A literal, not a parameter: PostgreSQL would type a bound 0 as text.
          .select(sql<number>`0`.as('depth'))
          .where('id', '=', locationId)
          .unionAll((union) =>
            union
              .selectFrom('locations')
              .innerJoin('ancestry', 'ancestry.parent_location_id', 'locations.id')
              .select(['locations.id', 'locations.parent_location_id', 'locations.organization_id'])
              // The tree is at most a few levels deep; the bound stops a cycle a bad write could make.
              .select((eb) => eb(eb.ref('ancestry.depth'), '+', 1).as('depth'))
              .where('ancestry.depth', '<', 64),
          ),
      )
      .selectFrom('ancestry')
      .select(['id', 'parent_location_id', 'organization_id', 'depth'])
      .orderBy('depth')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      parentLocationId: row.parent_location_id ?? undefined,
      organizationId: row.organization_id,
    }));
  }

  /** Organizations any of the locations is shared with. */
  async sharedWith(db: Db, locationIds: readonly string[]): Promise<string[]> {
    if (locationIds.length === 0) return [];
    const rows = await db
      .selectFrom('location_shares')
      .select('organization_id')
      .distinct()
      .where('location_id', 'in', locationIds)
      .execute();
    return rows.map((row) => row.organization_id);
  }

  /** The organization of each part that exists, by part id (one query). */
  async organizationsOfParts(db: Db, partIds: readonly string[]): Promise<Map<string, string>> {
    if (partIds.length === 0) return new Map();
    const rows = await db
      .selectFrom('robot_parts')
      .innerJoin('locations', 'locations.id', 'robot_parts.location_id')
      .select(['robot_parts.id as part_id', 'locations.organization_id'])
      .where('robot_parts.id', 'in', [...partIds])
      .execute();
    return new Map(rows.map((row) => [row.part_id, row.organization_id]));
  }
}
