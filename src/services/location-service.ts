import type { Access } from '../authz/authorizer.js';
import type { FleetPrincipal } from '../authz/principal.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../domain/errors.js';
import { newId, newLocationId, newSharedSecret } from '../domain/ids.js';
import type { Location, LocationAuth } from '../domain/models.js';
import { boundedText, requireId, requireName } from '../domain/validation.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { LocationChanges } from '../store/location-repository.js';
import type { LocationRecord } from '../store/records.js';
import { openSecrets } from './mappers.js';
import type { ServiceDeps } from './context.js';

/** A root location is at level 1; nothing may sit deeper than this. */
export const MAX_LOCATION_DEPTH = 3;
/** A location holds one or two active secrets, so one can be rotated out while the other works. */
export const MAX_LOCATION_SECRETS = 2;

export interface LocationUpdate {
  /** Absent or empty: keep the name. */
  name?: string | undefined;
  /** Absent: keep the parent; empty: move to the root; an id: move under that location. */
  parentLocationId?: string | undefined;
  region?: string | undefined;
}

/** Locations: where machines live, nested up to three levels and shareable between organizations. */
export class LocationService {
  constructor(private readonly deps: ServiceDeps) {}

  async create(
    principal: FleetPrincipal,
    organizationId: string,
    rawName: string,
    parentId?: string,
  ): Promise<Location> {
    const orgId = requireId(organizationId, 'organization_id');
    const name = requireName(rawName, 'name');
    const { repos, authz } = this.deps;
    return this.deps.db.transaction().execute(async (trx) => {
      await authz.access(trx, principal, { type: 'organization', id: orgId });
      let parent: LocationRecord | undefined;
      if (!parentId) {
        await authz.require(trx, principal, { type: 'organization', id: orgId }, 'write_location');
      } else {
        await repos.organizations.lock(trx, orgId);
        ({ record: parent } = await authz.require(
          trx,
          principal,
          { type: 'location', id: parentId },
          'write_location',
        ));
        if (parent.organizationId !== orgId) {
          throw invalidArgument('the parent location belongs to another organization');
        }
        if ((await this.depthOf(trx, parent)) + 1 > MAX_LOCATION_DEPTH) {
          throw invalidArgument(`locations nest at most ${MAX_LOCATION_DEPTH} levels deep`);
        }
      }
      const now = nowIso();
      const location: LocationRecord = {
        id: newLocationId(),
        organizationId: orgId,
        name,
        parentLocationId: parent?.id,
        region: '',
        createdAt: now,
      };
      await repos.locations.create(trx, location);
      await repos.locations.addSecret(trx, {
        id: newId(),
        ownerId: location.id,
        sealed: this.deps.secrets.seal(newSharedSecret()),
        createdAt: now,
      });
      return this.view(trx, location, true);
    });
  }

  async get(principal: FleetPrincipal, locationId: string): Promise<Location> {
    const id = requireId(locationId, 'location_id');
    const { db, authz } = this.deps;
    const access = await authz.require(db, principal, { type: 'location', id }, 'read_location');
    return this.view(db, access.record, access.permissions.has('read_location_secret'));
  }

  async update(principal: FleetPrincipal, locationId: string, update: LocationUpdate): Promise<Location> {
    const id = requireId(locationId, 'location_id');
    const { repos, authz } = this.deps;
    const changes: LocationChanges = {};
    if (update.name) changes.name = requireName(update.name, 'name');
    if (update.region !== undefined) changes.region = boundedText(update.region, 'region');
    return this.deps.db.transaction().execute(async (trx) => {
      const access = await authz.require(trx, principal, { type: 'location', id }, 'write_location');
      let location = access.record;
      if (update.parentLocationId !== undefined) {
        await repos.organizations.lock(trx, location.organizationId);
        location = await this.reread(trx, id);
        changes.parentLocationId = await this.checkMove(trx, principal, location, update.parentLocationId);
      }
      await repos.locations.update(trx, id, changes);
      return this.view(trx, await this.reread(trx, id), access.permissions.has('read_location_secret'));
    });
  }

  async delete(principal: FleetPrincipal, locationId: string): Promise<void> {
    const id = requireId(locationId, 'location_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'location', id }, 'write_location');
      if ((await repos.locations.listChildren(trx, id)).length > 0) {
        throw failedPrecondition('the location has sub-locations; move or delete them first');
      }
      if ((await repos.robots.countInLocation(trx, id)) > 0) {
        throw failedPrecondition('the location still holds machines; delete or move them first');
      }
      await repos.authorizations.deleteForResource(trx, 'location', id);
      await repos.locations.delete(trx, id);
    });
  }

  /** Locations of an organization (its own and those shared with it) that the caller can see. */
  async list(principal: FleetPrincipal, organizationId: string): Promise<Location[]> {
    const orgId = requireId(organizationId, 'organization_id');
    const { db, repos, authz } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    const all = await repos.locations.listForOrganization(db, orgId);
    const visible = await authz.visibleLocations(db, principal, orgId, all);
    const out: Location[] = [];
    for (const location of visible) {
      const access = await authz.access(db, principal, { type: 'location', id: location.id });
      out.push(await this.view(db, location, access.permissions.has('read_location_secret')));
    }
    return out;
  }

  /** Makes the location (and everything under it) visible to another organization. */
  async share(principal: FleetPrincipal, locationId: string, organizationId: string): Promise<void> {
    const id = requireId(locationId, 'location_id');
    const orgId = requireId(organizationId, 'organization_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      const { record: location } = await authz.require(
        trx,
        principal,
        { type: 'location', id },
        'write_location',
      );
      await authz.require(trx, principal, { type: 'organization', id: orgId }, 'read_organization');
      if (location.organizationId === orgId)
        throw invalidArgument('the location already belongs to that organization');
      const shared = () => alreadyExists('the location is already shared with that organization');
      if ((await repos.locations.listShares(trx, id)).includes(orgId)) throw shared();
      try {
        await repos.locations.addShare(trx, id, orgId, nowIso());
      } catch (error) {
        // Shared by a concurrent call meanwhile: the primary key says so.
        if (isUniqueViolation(error)) throw shared();
        throw error;
      }
    });
  }

  async unshare(principal: FleetPrincipal, locationId: string, organizationId: string): Promise<void> {
    const id = requireId(locationId, 'location_id');
    const orgId = requireId(organizationId, 'organization_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      const { record: location } = await authz.require(
        trx,
        principal,
        { type: 'location', id },
        'write_location',
      );
      if (location.organizationId === orgId) {
        throw failedPrecondition('a location cannot be unshared from its primary organization');
      }
      if (!(await repos.locations.listShares(trx, id)).includes(orgId)) {
        throw notFound('the location is not shared with that organization');
      }
      await repos.locations.removeShare(trx, id, orgId);
    });
  }

  /** Organizations that can see the location: its own and those it is shared with. */
  async organizationsWithAccess(
    principal: FleetPrincipal,
    locationId: string,
  ): Promise<{ id: string; name: string }[]> {
    const id = requireId(locationId, 'location_id');
    const { db, authz, repos } = this.deps;
    const access = await authz.require(db, principal, { type: 'location', id }, 'read_location');
    const ids = [access.scope.organizationId, ...access.scope.sharedWith];
    const orgs = await repos.organizations.listByIds(db, ids);
    return ids.flatMap((orgId) =>
      orgs.filter((o) => o.id === orgId).map((o) => ({ id: o.id, name: o.name })),
    );
  }

  async auth(principal: FleetPrincipal, locationId: string): Promise<LocationAuth> {
    const id = requireId(locationId, 'location_id');
    await this.deps.authz.require(this.deps.db, principal, { type: 'location', id }, 'read_location_secret');
    return this.authOf(this.deps.db, id);
  }

  async createSecret(principal: FleetPrincipal, locationId: string): Promise<LocationAuth> {
    const id = requireId(locationId, 'location_id');
    const { repos } = this.deps;
    return this.deps.db.transaction().execute(async (trx) => {
      await this.requireSecretWriter(trx, principal, id);
      if ((await repos.locations.listSecrets(trx, id)).length >= MAX_LOCATION_SECRETS) {
        throw failedPrecondition(`a location has at most ${MAX_LOCATION_SECRETS} secrets; delete one first`);
      }
      await repos.locations.addSecret(trx, {
        id: newId(),
        ownerId: id,
        sealed: this.deps.secrets.seal(newSharedSecret()),
        createdAt: nowIso(),
      });
      return this.authOf(trx, id);
    });
  }

  async deleteSecret(principal: FleetPrincipal, locationId: string, secretId: string): Promise<void> {
    const id = requireId(locationId, 'location_id');
    const sid = requireId(secretId, 'secret_id');
    const { repos } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await this.requireSecretWriter(trx, principal, id);
      const secrets = await repos.locations.listSecrets(trx, id);
      if (!secrets.some((s) => s.id === sid)) throw notFound('secret not found');
      if (secrets.length <= 1) throw failedPrecondition('a location keeps at least one secret');
      await repos.locations.deleteSecret(trx, id, sid);
    });
  }

  /** Checks the caller may change the location's secrets, and locks the location until the transaction ends. */
  private async requireSecretWriter(trx: Db, principal: FleetPrincipal, id: string): Promise<Access> {
    const access = await this.deps.authz.require(trx, principal, { type: 'location', id }, 'write_location');
    const allowed = await this.deps.authz.require(
      trx,
      principal,
      access.scope.resource,
      'read_location_secret',
    );
    await this.deps.repos.locations.lock(trx, id);
    return allowed;
  }

  /** Validates a move and returns the new parent id (undefined for the root). */
  private async checkMove(
    trx: Db,
    principal: FleetPrincipal,
    location: LocationRecord,
    target: string,
  ): Promise<string | undefined> {
    if (target === '') {
      // A root location is the organization's to make, as in create().
      const org = { type: 'organization', id: location.organizationId } as const;
      await this.deps.authz.require(trx, principal, org, 'write_location');
      return undefined;
    }
    const { record: parent } = await this.deps.authz.require(
      trx,
      principal,
      { type: 'location', id: target },
      'write_location',
    );
    if (parent.organizationId !== location.organizationId) {
      throw invalidArgument('the new parent location belongs to another organization');
    }
    // The new parent must not be the location itself or one of its descendants.
    let cursor: LocationRecord | undefined = parent;
    while (cursor) {
      if (cursor.id === location.id)
        throw invalidArgument('a location cannot be moved under itself or its sub-locations');
      cursor = cursor.parentLocationId
        ? await this.deps.repos.locations.findById(trx, cursor.parentLocationId)
        : undefined;
    }
    const depth = (await this.depthOf(trx, parent)) + (await this.heightOf(trx, location.id));
    if (depth > MAX_LOCATION_DEPTH)
      throw invalidArgument(`locations nest at most ${MAX_LOCATION_DEPTH} levels deep`);
    return parent.id;
  }

  /** The level of a location: 1 for a root location. */
  private async depthOf(db: Db, location: LocationRecord): Promise<number> {
    let depth = 1;
    let parentId = location.parentLocationId;
    while (parentId) {
      depth++;
      parentId = (await this.deps.repos.locations.findById(db, parentId))?.parentLocationId;
    }
    return depth;
  }

  /** Levels in the subtree rooted at a location: 1 for a location without sub-locations. */
  private async heightOf(db: Db, id: string): Promise<number> {
    const children = await this.deps.repos.locations.listChildren(db, id);
    let tallest = 0;
    for (const child of children) tallest = Math.max(tallest, await this.heightOf(db, child.id));
    return 1 + tallest;
  }

  /** The location as it is now, after a lock or a write in this transaction. */
  private async reread(db: Db, id: string): Promise<LocationRecord> {
    const location = await this.deps.repos.locations.findById(db, id);
    if (!location) throw notFound('location not found');
    return location;
  }

  private async authOf(db: Db, locationId: string): Promise<LocationAuth> {
    const secrets = await this.deps.repos.locations.listSecrets(db, locationId);
    return {
      locationId,
      secrets: openSecrets(this.deps.secrets, secrets),
    };
  }

  private async view(db: Db, location: LocationRecord, withAuth: boolean): Promise<Location> {
    const { repos } = this.deps;
    const org = await repos.organizations.findById(db, location.organizationId);
    const shares = await repos.locations.listShares(db, location.id);
    return {
      id: location.id,
      name: location.name,
      parentLocationId: location.parentLocationId ?? '',
      createdOn: new Date(location.createdAt),
      region: location.region,
      primaryOrganization: { id: location.organizationId, name: org?.name ?? '' },
      organizations: [
        { organizationId: location.organizationId, primary: true },
        ...shares.map((organizationId) => ({ organizationId, primary: false })),
      ],
      robotCount: await repos.robots.countInLocation(db, location.id),
      auth: withAuth ? await this.authOf(db, location.id) : undefined,
    };
  }
}
