import type { Db } from './db.js';
import type { AuthorizationRow, OrganizationInviteRow, UserRow } from './schema.js';

export type InviteChanges = Partial<Pick<OrganizationInviteRow, 'authorizations' | 'send_email'>>;

/** Pending organization invites, and the member queries that go with them. */
export class InviteRepository {
  async create(db: Db, invite: OrganizationInviteRow): Promise<void> {
    await db.insertInto('organization_invites').values(invite).execute();
  }

  findByEmail(db: Db, organizationId: string, email: string): Promise<OrganizationInviteRow | undefined> {
    return db
      .selectFrom('organization_invites')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('email', '=', email)
      .executeTakeFirst();
  }

  findByTokenHash(db: Db, tokenHash: string): Promise<OrganizationInviteRow | undefined> {
    return db
      .selectFrom('organization_invites')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  listForOrganization(db: Db, organizationId: string): Promise<OrganizationInviteRow[]> {
    return db
      .selectFrom('organization_invites')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  /** Invites for this email that were not mailed: claimed at the user's next login. */
  listUnmailedForEmail(db: Db, email: string): Promise<OrganizationInviteRow[]> {
    return db
      .selectFrom('organization_invites')
      .selectAll()
      .where('email', '=', email)
      .where('send_email', '=', 0)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async update(db: Db, id: string, changes: InviteChanges): Promise<void> {
    if (Object.keys(changes).length === 0) return;
    await db.updateTable('organization_invites').set(changes).where('id', '=', id).execute();
  }

  /** Deletes the invite; resolves with whether it was still there. */
  async delete(db: Db, id: string): Promise<boolean> {
    const result = await db.deleteFrom('organization_invites').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Grants held by users inside an organization: what makes them its members. */
  listUserGrantsInOrganization(db: Db, organizationId: string): Promise<AuthorizationRow[]> {
    return db
      .selectFrom('authorizations')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('identity_type', '=', 'user')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  /** Holders (users and keys) of owner on the organization itself. */
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

  async deleteGrantsInOrganization(db: Db, identityId: string, organizationId: string): Promise<void> {
    await db
      .deleteFrom('authorizations')
      .where('identity_id', '=', identityId)
      .where('organization_id', '=', organizationId)
      .execute();
  }

  async listUsers(db: Db, ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return db
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
  }

  /** Sets the password of a user who has none yet (one made by `flotilla init` without one). */
  async setPasswordIfUnset(db: Db, userId: string, passwordHash: string): Promise<void> {
    await db
      .updateTable('users')
      .set({ password_hash: passwordHash })
      .where('id', '=', userId)
      .where('password_hash', 'is', null)
      .execute();
  }
}
