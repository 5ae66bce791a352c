import type { ChangeTracker } from './change-tracker.js';
import type { Db } from './db.js';
import type { LocationRecord, SealedSecret } from './records.js';
import type { LocationRow, LocationSecretRow } from './schema.js';

/**
 * What a location update may change. `name` and `region` left undefined keep their values;
 * `parentLocationId` moves the location whenever the key is present: to that parent, or to the
 * root when it is undefined.
 */
export type LocationChanges = Partial<Pick<LocationRecord, 'name' | 'parentLocationId' | 'region'>>;

/** Row to record: the one place a location row is read. */
const toLocationRecord = (row: LocationRow): LocationRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  parentLocationId: row.parent_location_id ?? undefined,
  region: row.region,
  createdAt: row.created_at,
});

/** Row to record for a location's secret. */
const toSealedSecret = (row: LocationSecretRow): SealedSecret => ({
  id: row.id,
  ownerId: row.location_id,
  sealed: row.secret_ciphertext,
  createdAt: row.created_at,
});

/** Locations, their shares with other organizations, and their secrets. */
export class LocationRepository {
  constructor(private readonly changes: ChangeTracker) {}

  /** Inserts a location with an empty metadata document. */
  async create(db: Db, location: LocationRecord): Promise<void> {
    await db
      .insertInto('locations')
      .values({
        id: location.id,
        organization_id: location.organizationId,
        name: location.name,
        parent_location_id: location.parentLocationId ?? null,
        region: location.region,
        metadata: '{}',
        created_at: location.createdAt,
      })
      .execute();
  }

  /** Locks the location's row until the transaction ends (see RobotRepository.lock). */
  async lock(db: Db, id: string): Promise<void> {
    await db
      .updateTable('locations')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .execute();
  }

  async findById(db: Db, id: string): Promise<LocationRecord | undefined> {
    const row = await db.selectFrom('locations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toLocationRecord(row);
  }

  /** Locations whose primary organization is `organizationId`, or which are shared with it. */
  async listForOrganization(db: Db, organizationId: string): Promise<LocationRecord[]> {
    const rows = await db
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
    return rows.map(toLocationRecord);
  }

  async listChildren(db: Db, parentId: string): Promise<LocationRecord[]> {
    const rows = await db
      .selectFrom('locations')
      .selectAll()
      .where('parent_location_id', '=', parentId)
      .execute();
    return rows.map(toLocationRecord);
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
    const set: Partial<Pick<LocationRow, 'name' | 'parent_location_id' | 'region'>> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if ('parentLocationId' in changes) set.parent_location_id = changes.parentLocationId ?? null;
    if (changes.region !== undefined) set.region = changes.region;
    if (Object.keys(set).length === 0) return;
    await db.updateTable('locations').set(set).where('id', '=', id).execute();
    await this.changes.changed(db, `location:${id}`);
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('locations').where('id', '=', id).execute();
    await this.changes.changed(db, `location:${id}`);
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

  async listSecrets(db: Db, locationId: string): Promise<SealedSecret[]> {
    const rows = await db
      .selectFrom('location_secrets')
      .selectAll()
      .where('location_id', '=', locationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toSealedSecret);
  }

  /** Adds a secret; `ownerId` is the location. */
  async addSecret(db: Db, secret: SealedSecret): Promise<void> {
    await db
      .insertInto('location_secrets')
      .values({
        id: secret.id,
        location_id: secret.ownerId,
        secret_ciphertext: secret.sealed,
        created_at: secret.createdAt,
      })
      .execute();
    await this.changes.changed(db, `location:${secret.ownerId}`);
  }

  async deleteSecret(db: Db, locationId: string, secretId: string): Promise<number> {
    const result = await db
      .deleteFrom('location_secrets')
      .where('location_id', '=', locationId)
      .where('id', '=', secretId)
      .executeTakeFirst();
    await this.changes.changed(db, `location:${locationId}`);
    return Number(result.numDeletedRows);
  }
}
