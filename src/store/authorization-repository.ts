import type { ResourceType } from '../domain/roles.js';
import type { Db } from './db.js';
import type { RoleGrantRecord } from './records.js';
import type { AuthorizationRow } from './schema.js';

/** Role grants held by users and API keys. */
export class AuthorizationRepository {
  async create(db: Db, grant: RoleGrantRecord): Promise<void> {
    await db.insertInto('authorizations').values(roleGrantRow(grant)).execute();
  }

  async listForIdentity(db: Db, identityId: string): Promise<RoleGrantRecord[]> {
    const rows = await db
      .selectFrom('authorizations')
      .selectAll()
      .where('identity_id', '=', identityId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRoleGrantRecord);
  }

  async listForIdentities(db: Db, identityIds: readonly string[]): Promise<RoleGrantRecord[]> {
    if (identityIds.length === 0) return [];
    const rows = await db
      .selectFrom('authorizations')
      .selectAll()
      .where('identity_id', 'in', [...identityIds])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRoleGrantRecord);
  }

  /** Grants naming one resource, in any organization. */
  async listForResource(db: Db, resourceType: ResourceType, resourceId: string): Promise<RoleGrantRecord[]> {
    const rows = await db
      .selectFrom('authorizations')
      .selectAll()
      .where('resource_type', '=', resourceType)
      .where('resource_id', '=', resourceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRoleGrantRecord);
  }

  /** Every grant inside an organization, oldest first. */
  async listForOrganization(db: Db, organizationId: string): Promise<RoleGrantRecord[]> {
    const rows = await db
      .selectFrom('authorizations')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRoleGrantRecord);
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

  /** Identities holding owner on the organization itself. */
  async listOrganizationOwners(db: Db, organizationId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('authorizations')
      .select('identity_id')
      .where('resource_type', '=', 'organization')
      .where('resource_id', '=', organizationId)
      .where('role', '=', 'owner')
      .execute();
    return rows.map((r) => r.identity_id);
  }
}

/** The one mapping of `authorizations` rows (also used by InviteRepository's member queries). */
export const toRoleGrantRecord = (row: AuthorizationRow): RoleGrantRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  identityId: row.identity_id,
  identityType: row.identity_type,
  resourceType: row.resource_type,
  resourceId: row.resource_id,
  role: row.role,
  createdAt: row.created_at,
});

const roleGrantRow = (grant: RoleGrantRecord): AuthorizationRow => ({
  id: grant.id,
  organization_id: grant.organizationId,
  identity_id: grant.identityId,
  identity_type: grant.identityType,
  resource_type: grant.resourceType,
  resource_id: grant.resourceId,
  role: grant.role,
  created_at: grant.createdAt,
});
