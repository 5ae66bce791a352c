import type { ResourceType, RoleName } from '../domain/roles.js';
import { toRoleGrantRecord } from './authorization-repository.js';
import type { Db } from './db.js';
import type { InviteRecord, RoleGrantRecord } from './records.js';
import type { OrganizationInviteRow } from './schema.js';

export type InviteChanges = Partial<Pick<InviteRecord, 'roles' | 'sendEmail'>>;

/** Pending organization invites, and the member queries that go with them. */
export class InviteRepository {
  async create(db: Db, invite: InviteRecord): Promise<void> {
    await db.insertInto('organization_invites').values(inviteRow(invite)).execute();
  }

  async findByEmail(db: Db, organizationId: string, email: string): Promise<InviteRecord | undefined> {
    const row = await db
      .selectFrom('organization_invites')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('email', '=', email)
      .executeTakeFirst();
    return row && toInviteRecord(row);
  }

  async findByTokenHash(db: Db, tokenHash: string): Promise<InviteRecord | undefined> {
    const row = await db
      .selectFrom('organization_invites')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row && toInviteRecord(row);
  }

  async listForOrganization(db: Db, organizationId: string): Promise<InviteRecord[]> {
    const rows = await db
      .selectFrom('organization_invites')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toInviteRecord);
  }

  /** Invites for this email that were not mailed: claimed at the user's next login. */
  async listUnmailedForEmail(db: Db, email: string): Promise<InviteRecord[]> {
    const rows = await db
      .selectFrom('organization_invites')
      .selectAll()
      .where('email', '=', email)
      .where('send_email', '=', 0)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toInviteRecord);
  }

  async update(db: Db, id: string, changes: InviteChanges): Promise<void> {
    const row = inviteRow(changes);
    if (Object.keys(row).length === 0) return;
    await db.updateTable('organization_invites').set(row).where('id', '=', id).execute();
  }

  /** Deletes the invite; resolves with whether it was still there. */
  async delete(db: Db, id: string): Promise<boolean> {
    const result = await db.deleteFrom('organization_invites').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Grants held by users inside an organization: what makes them its members. */
  async listUserGrantsInOrganization(db: Db, organizationId: string): Promise<RoleGrantRecord[]> {
    const rows = await db
      .selectFrom('authorizations')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('identity_type', '=', 'user')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRoleGrantRecord);
  }

  /** Deletes every grant the identity holds inside the organization. */
  async deleteGrantsInOrganization(db: Db, identityId: string, organizationId: string): Promise<void> {
    await db
      .deleteFrom('authorizations')
      .where('identity_id', '=', identityId)
      .where('organization_id', '=', organizationId)
      .execute();
  }
}

/** A role as the `authorizations` column stores it (JSON list, at most one per resource). */
interface StoredRole {
  role: RoleName;
  resource_type: ResourceType;
  resource_id: string;
}

const toInviteRecord = (row: OrganizationInviteRow): InviteRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  email: row.email,
  roles: (JSON.parse(row.authorizations) as StoredRole[]).map((r) => ({
    role: r.role,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
  })),
  sendEmail: row.send_email === 1,
  tokenHash: row.token_hash,
  sealedToken: row.token_ciphertext,
  createdAt: row.created_at,
});

/** An invite's columns: every one for a whole invite, only those changed for changes. */
function inviteRow(invite: InviteRecord): OrganizationInviteRow;
function inviteRow(changes: InviteChanges): Partial<OrganizationInviteRow>;
function inviteRow(invite: Partial<InviteRecord>): Partial<OrganizationInviteRow> {
  const row: Partial<OrganizationInviteRow> = {};
  if (invite.id !== undefined) row.id = invite.id;
  if (invite.organizationId !== undefined) row.organization_id = invite.organizationId;
  if (invite.email !== undefined) row.email = invite.email;
  if (invite.roles !== undefined) {
    const stored: StoredRole[] = invite.roles.map((r) => ({
      role: r.role,
      resource_type: r.resourceType,
      resource_id: r.resourceId,
    }));
    row.authorizations = JSON.stringify(stored);
  }
  if (invite.sendEmail !== undefined) row.send_email = invite.sendEmail ? 1 : 0;
  if (invite.tokenHash !== undefined) row.token_hash = invite.tokenHash;
  if (invite.sealedToken !== undefined) row.token_ciphertext = invite.sealedToken;
  if (invite.createdAt !== undefined) row.created_at = invite.createdAt;
  return row;
}
