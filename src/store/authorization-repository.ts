import type { Db } from './db.js';
import type { AuthorizationRow, ResourceType } from './schema.js';

/** Role grants held by users and API keys. */
export class AuthorizationRepository {
  async create(db: Db, grant: AuthorizationRow): Promise<void> {
    await db.insertInto('authorizations').values(grant).execute();
  }

  listForIdentity(db: Db, identityId: string): Promise<AuthorizationRow[]> {
    return db
      .selectFrom('authorizations')
      .selectAll()
      .where('identity_id', '=', identityId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  listForIdentities(db: Db, identityIds: readonly string[]): Promise<AuthorizationRow[]> {
    if (identityIds.length === 0) return Promise.resolve([]);
    return db
      .selectFrom('authorizations')
      .selectAll()
      .where('identity_id', 'in', [...identityIds])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  /** Grants naming one resource, in any organization. */
  listForResource(db: Db, resourceType: ResourceType, resourceId: string): Promise<AuthorizationRow[]> {
    return db
      .selectFrom('authorizations')
      .selectAll()
      .where('resource_type', '=', resourceType)
      .where('resource_id', '=', resourceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  /** Every grant inside an organization, oldest first. */
  listForOrganization(db: Db, organizationId: string): Promise<AuthorizationRow[]> {
    return db
      .selectFrom('authorizations')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('authorizations').where('id', '=', id).execute();
  }

  async deleteForIdentity(db: Db, identityId: string): Promise<void> {
    await db.deleteFrom('authorizations').where('identity_id', '=', identityId).execute();
  }

  async deleteForResource(db: Db, resourceType: ResourceType, resourceId: string): Promise<void> {
    await db
      .deleteFrom('authorizations')
      .where('resource_type', '=', resourceType)
      .where('resource_id', '=', resourceId)
      .execute();
  }

  async deleteForOrganization(db: Db, organizationId: string): Promise<void> {
    await db.deleteFrom('authorizations').where('organization_id', '=', organizationId).execute();
  }
}
