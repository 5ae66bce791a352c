import type { Db } from './db.js';
import type { LocationRow, LocationSecretRow } from './schema.js';

export type LocationChanges = Partial<Pick<LocationRow, 'name' | 'parent_location_id' | 'region'>>;

/** Locations, their shares with other organizations, and their secrets. */
export class LocationRepository {
  async create(db: Db, location: LocationRow): Promise<void> {
    await db.insertInto('locations').values(location).execute();
  }

  /** Locks the location's row until the transaction ends (see RobotRepository.lock). */
  async lock(db: Db, id: string): Promise<void> {
    await db
      .updateTable('locations')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .execute();
  }

  findById(db: Db, id: string): Promise<LocationRow | undefined> {
    return db.selectFrom('locations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Locations whose primary organization is `organizationId`, or which are shared with it. */
  listForOrganization(db: Db, organizationId: string): Promise<LocationRow[]> {
    return db
      .selectFrom('locations')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('organization_id', '=', organizationId),
          eb(
            'id',
            'in',
            eb
              .selectFrom('location_shares')
              .select('location_id')
              .where('organization_id', '=', organizationId),
          ),
        ]),
      )
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  listChildren(db: Db, parentId: string): Promise<LocationRow[]> {
    return db.selectFrom('locations').selectAll().where('parent_location_id', '=', parentId).execute();
  }

  async countInOrganization(db: Db, organizationId: string): Promise<number> {
    const row = await db
      .selectFrom('locations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('organization_id', '=', organizationId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async update(db: Db, id: string, changes: LocationChanges): Promise<void> {
    if (Object.keys(changes).length === 0) return;
    await db.updateTable('locations').set(changes).where('id', '=', id).execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('locations').where('id', '=', id).execute();
  }

  /** Organizations the location is shared with (its primary organization excluded), oldest first. */
  async listShares(db: Db, locationId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('location_shares')
      .select('organization_id')
      .where('location_id', '=', locationId)
      .orderBy('created_at')
      .orderBy('organization_id')
      .execute();
    return rows.map((r) => r.organization_id);
  }

  async addShare(db: Db, locationId: string, organizationId: string, createdAt: string): Promise<void> {
    await db
      .insertInto('location_shares')
      .values({ location_id: locationId, organization_id: organizationId, created_at: createdAt })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async removeShare(db: Db, locationId: string, organizationId: string): Promise<void> {
    await db
      .deleteFrom('location_shares')
      .where('location_id', '=', locationId)
      .where('organization_id', '=', organizationId)
      .execute();
  }

  /** Removes every share of other organizations' locations with this organization. */
  async removeSharesWith(db: Db, organizationId: string): Promise<void> {
    await db.deleteFrom('location_shares').where('organization_id', '=', organizationId).execute();
  }

  listSecrets(db: Db, locationId: string): Promise<LocationSecretRow[]> {
    return db
      .selectFrom('location_secrets')
      .selectAll()
      .where('location_id', '=', locationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async addSecret(db: Db, secret: LocationSecretRow): Promise<void> {
    await db.insertInto('location_secrets').values(secret).execute();
  }

  async deleteSecret(db: Db, locationId: string, secretId: string): Promise<number> {
    const result = await db
      .deleteFrom('location_secrets')
      .where('location_id', '=', locationId)
      .where('id', '=', secretId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
