import type { FleetPrincipal } from '../authz/principal.js';
import { alreadyExists, failedPrecondition, notFound } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { Organization } from '../domain/models.js';
import { boundedText, requireEmail, requireId, requireName, requireNamespace } from '../domain/validation.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { OrganizationChanges } from '../store/organization-repository.js';
import type { OrganizationRecord } from '../store/records.js';
import type { ServiceDeps } from './context.js';
import { toOrganization } from './mappers.js';

export interface OrganizationUpdate {
  name?: string | undefined;
  publicNamespace?: string | undefined;
  region?: string | undefined;
  cid?: string | undefined;
}

/** Organizations: the tenants, and the users and metadata that hang off them. */
export class OrganizationService {
  constructor(private readonly deps: ServiceDeps) {}

  /** Creates an organization; the caller becomes its owner. */
  async create(principal: FleetPrincipal, rawName: string): Promise<Organization> {
    const name = requireName(rawName, 'name');
    return this.deps.db.transaction().execute((trx) => this.createIn(trx, principal, name));
  }

  /** Creates an organization inside an open transaction (also used by `flotilla init`). */
  async createIn(trx: Db, owner: FleetPrincipal, name: string): Promise<Organization> {
    const now = nowIso();
    const org: OrganizationRecord = {
      id: newId(),
      name,
      publicNamespace: undefined,
      region: '',
      cid: undefined,
      createdAt: now,
    };
    await this.deps.repos.organizations.create(trx, org);
    await this.deps.repos.authorizations.create(trx, {
      id: newId(),
      organizationId: org.id,
      identityId: owner.id,
      identityType: owner.kind,
      resourceType: 'organization',
      resourceId: org.id,
      role: 'owner',
      createdAt: now,
    });
    return toOrganization(org);
  }

  async list(principal: FleetPrincipal): Promise<Organization[]> {
    const { db, authz, repos } = this.deps;
    const ids = await authz.visibleOrganizationIds(db, principal);
    return (await repos.organizations.listByIds(db, ids)).map(toOrganization);
  }

  async get(principal: FleetPrincipal, organizationId: string): Promise<Organization> {
    const id = requireId(organizationId, 'organization_id');
    const { db, authz } = this.deps;
    return toOrganization(
      (await authz.require(db, principal, { type: 'organization', id }, 'read_organization')).record,
    );
  }

  /** Whether nobody holds this namespace yet (a malformed one is INVALID_ARGUMENT). */
  async isNamespaceAvailable(_principal: FleetPrincipal, namespace: string): Promise<boolean> {
    const ns = requireNamespace(namespace);
    return !(await this.deps.repos.organizations.namespaceTaken(this.deps.db, ns));
  }

  /** Changes name, region and cid; sets the public namespace once. */
  async update(
    principal: FleetPrincipal,
    organizationId: string,
    update: OrganizationUpdate,
  ): Promise<Organization> {
    const id = requireId(organizationId, 'organization_id');
    const changes: OrganizationChanges = {};
    if (update.name !== undefined) changes.name = requireName(update.name, 'name');
    if (update.region !== undefined) changes.region = boundedText(update.region, 'region');
    if (update.cid !== undefined) changes.cid = boundedText(update.cid, 'cid');
    const namespace =
      update.publicNamespace === undefined ? undefined : requireNamespace(update.publicNamespace);
    return this.deps.db.transaction().execute(async (trx) => {
      const { record } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'organization', id },
        'write_organization',
      );
      const current = toOrganization(record);
      if (namespace !== undefined && namespace !== current.publicNamespace) {
        if (current.publicNamespace !== '') {
          throw failedPrecondition(
            'the public namespace is already set; use UpdateOrganizationNamespace to change it',
          );
        }
        changes.publicNamespace = namespace;
      }
      await this.saveChanges(trx, id, changes);
      return this.reread(trx, id);
    });
  }

  /** Sets or changes the public namespace. */
  async updateNamespace(
    principal: FleetPrincipal,
    organizationId: string,
    namespace: string,
  ): Promise<Organization> {
    const id = requireId(organizationId, 'organization_id');
    const ns = requireNamespace(namespace);
    return this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'organization', id }, 'write_organization');
      await this.saveChanges(trx, id, { publicNamespace: ns });
      return this.reread(trx, id);
    });
  }

  /** Deletes an organization that holds no locations, fragments or registry items, with its keys and grants. */
  async delete(principal: FleetPrincipal, organizationId: string): Promise<void> {
    const id = requireId(organizationId, 'organization_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'organization', id }, 'write_organization');
      if ((await repos.locations.countInOrganization(trx, id)) > 0) {
        throw failedPrecondition('the organization still holds locations; delete them first');
      }
      if ((await repos.fragments.countForOrganization(trx, id)) > 0) {
        throw failedPrecondition('the organization still holds fragments; delete them first');
      }
      if ((await repos.registry.countForOrganization(trx, id)) > 0) {
        throw failedPrecondition(
          'the organization still holds registry items; delete or transfer them first',
        );
      }
      await repos.locations.removeSharesWith(trx, id);
      await repos.authorizations.deleteForOrganization(trx, id);
      const keys = await repos.apiKeys.listForOrganization(trx, id);
      for (const key of keys) await repos.authorizations.deleteForIdentity(trx, key.id);
      await repos.apiKeys.deleteForOrganization(trx, id);
      await repos.organizations.delete(trx, id);
    });
  }

  /**
   * The id of the user with this email. Only users who share an organization with the caller
   * (or the caller itself) are found, so the call cannot probe for accounts.
   */
  async userIdByEmail(principal: FleetPrincipal, rawEmail: string): Promise<string> {
    const email = requireEmail(rawEmail);
    const { db, repos } = this.deps;
    const user = await repos.users.findByEmail(db, email);
    if (!user || !(await this.userVisibleTo(db, principal, user.id))) throw notFound('user not found');
    return user.id;
  }

  /** The organizations a user belongs to, limited to those the caller can see too. */
  async listByUser(principal: FleetPrincipal, userId: string): Promise<Organization[]> {
    const id = requireId(userId, 'user_id');
    const { db, repos, authz } = this.deps;
    const user = await repos.users.findById(db, id);
    if (!user || !(await this.userVisibleTo(db, principal, id))) throw notFound('user not found');
    const userOrgs = new Set(
      (await repos.authorizations.listForIdentity(db, id)).map((g) => g.organizationId),
    );
    const mine = await authz.visibleOrganizationIds(db, principal);
    const both = principal.id === id ? [...userOrgs] : mine.filter((org) => userOrgs.has(org));
    return (await repos.organizations.listByIds(db, both)).map(toOrganization);
  }

  private async userVisibleTo(db: Db, principal: FleetPrincipal, userId: string): Promise<boolean> {
    if (principal.id === userId) return true;
    const theirs = new Set(
      (await this.deps.repos.authorizations.listForIdentity(db, userId)).map((g) => g.organizationId),
    );
    const mine = await this.deps.authz.visibleOrganizationIds(db, principal);
    return mine.some((org) => theirs.has(org));
  }

  private async saveChanges(trx: Db, id: string, changes: OrganizationChanges): Promise<void> {
    try {
      await this.deps.repos.organizations.update(trx, id, changes);
    } catch (error) {
      if (isUniqueViolation(error)) throw alreadyExists('that public namespace is taken');
      throw error;
    }
  }

  /** The organization as it is after a write in this transaction. */
  private async reread(db: Db, id: string): Promise<Organization> {
    const org = await this.deps.repos.organizations.findById(db, id);
    if (!org) throw notFound('organization not found');
    return toOrganization(org);
  }
}
