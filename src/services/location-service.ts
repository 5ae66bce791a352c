import type { Access } from '../authz/authorizer.js';
import type { FleetPrincipal } from '../authz/principal.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../domain/errors.js';
import { newId, newLocationId, newSharedSecret } from '../domain/ids.js';
import type { Location, LocationAuth } from '../domain/models.js';
import { boundedText, requireId, requireName } from '../domain/validation.js';
import { nowIso, type Db } from '../store/db.js';
import type { LocationChanges } from '../store/location-repository.js';
import type { LocationRow } from '../store/schema.js';
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
      let parent: LocationRow | undefined;
      if (!parentId) {
        await authz.require(trx, principal, { type: 'organization', id: orgId }, 'write_location');
      } else {
        await repos.organizations.lock(trx, orgId);
        parent = await this.loadVisible(trx, principal, parentId);
        await authz.require(trx, principal, { type: 'location', id: parent.id }, 'write_location');
        if (parent.organization_id !== orgId) {
          throw invalidArgument('the parent location belongs to another organization');
        }
        if ((await this.depthOf(trx, parent)) + 1 > MAX_LOCATION_DEPTH) {
          throw invalidArgument(`locations nest at most ${MAX_LOCATION_DEPTH} levels deep`);
        }
      }
      const now = nowIso();
      const row: LocationRow = {
        id: newLocationId(),
        organization_id: orgId,
        name,
        parent_location_id: parent?.id ?? null,
        region: '',
        metadata: '{}',
        created_at: now,
      };
      await repos.locations.create(trx, row);
      await repos.locations.addSecret(trx, {
        id: newId(),
        location_id: row.id,
        secret_ciphertext: this.deps.secrets.seal(newSharedSecret()),
        created_at: now,
      });
      return this.view(trx, row, true);
    });
  }

  async get(principal: FleetPrincipal, locationId: string): Promise<Location> {
    const id = requireId(locationId, 'location_id');
    const { db, authz } = this.deps;
    const access = await authz.require(db, principal, { type: 'location', id }, 'read_location');
    return this.view(db, await this.load(db, id), access.permissions.has('read_location_secret'));
  }

  async update(principal: FleetPrincipal, locationId: string, update: LocationUpdate): Promise<Location> {
    const id = requireId(locationId, 'location_id');
    const { repos, authz } = this.deps;
    const changes: LocationChanges = {};
    if (update.name) changes.name = requireName(update.name, 'name');
    if (update.region !== undefined) changes.region = boundedText(update.region, 'region');
    return this.deps.db.transaction().execute(async (trx) => {
      const access = await authz.require(trx, principal, { type: 'location', id }, 'write_location');
      let location = await this.load(trx, id);
      if (update.parentLocationId !== undefined) {
        await repos.organizations.lock(trx, location.organization_id);
        location = await this.load(trx, id);
        changes.parent_location_id = await this.checkMove(trx, principal, location, update.parentLocationId);
      }
      await repos.locations.update(trx, id, changes);
      return this.view(trx, await this.load(trx, id), access.permissions.has('read_location_secret'));
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
    for (const row of visible) {
      const access = await authz.access(db, principal, { type: 'location', id: row.id });
      out.push(await this.view(db, row, access.permissions.has('read_location_secret')));
    }
    return out;
  }

  /** Makes the location (and everything under it) visible to another organization. */
  async share(principal: FleetPrincipal, locationId: string, organizationId: string): Promise<void> {
    const id = requireId(locationId, 'location_id');
    const orgId = requireId(organizationId, 'organization_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'location', id }, 'write_location');
      await authz.require(trx, principal, { type: 'organization', id: orgId }, 'read_organization');
      const location = await this.load(trx, id);
      if (location.organization_id === orgId)
        throw invalidArgument('the location already belongs to that organization');
      if ((await repos.locations.listShares(trx, id)).includes(orgId)) {
        throw alreadyExists('the location is already shared with that organization');
      }
      await repos.locations.addShare(trx, id, orgId, nowIso());
    });
  }

  async unshare(principal: FleetPrincipal, locationId: string, organizationId: string): Promise<void> {
    const id = requireId(locationId, 'location_id');
    const orgId = requireId(organizationId, 'organization_id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'location', id }, 'write_location');
      const location = await this.load(trx, id);
      if (location.organization_id === orgId) {
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
    const rows = await repos.organizations.listByIds(db, ids);
    return ids.flatMap((orgId) =>
      rows.filter((r) => r.id === orgId).map((r) => ({ id: r.id, name: r.name })),
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
        location_id: id,
        secret_ciphertext: this.deps.secrets.seal(newSharedSecret()),
        created_at: nowIso(),
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

  /** Validates a move and returns the new parent id (null for the root). */
  private async checkMove(
    trx: Db,
    principal: FleetPrincipal,
    location: LocationRow,
    target: string,
  ): Promise<string | null> {
    if (target === '') {
      // A root location is the organization's to make, as in create().
      const org = { type: 'organization', id: location.organization_id } as const;
      await this.deps.authz.require(trx, principal, org, 'write_location');
      return null;
    }
    const parent = await this.loadVisible(trx, principal, target);
    await this.deps.authz.require(trx, principal, { type: 'location', id: parent.id }, 'write_location');
    if (parent.organization_id !== location.organization_id) {
      throw invalidArgument('the new parent location belongs to another organization');
    }
    // The new parent must not be the location itself or one of its descendants.
    let cursor: LocationRow | undefined = parent;
    while (cursor) {
      if (cursor.id === location.id)
        throw invalidArgument('a location cannot be moved under itself or its sub-locations');
      cursor = cursor.parent_location_id
        ? await this.deps.repos.locations.findById(trx, cursor.parent_location_id)
        : undefined;
    }
    const depth = (await this.depthOf(trx, parent)) + (await this.heightOf(trx, location.id));
    if (depth > MAX_LOCATION_DEPTH)
      throw invalidArgument(`locations nest at most ${MAX_LOCATION_DEPTH} levels deep`);
    return parent.id;
  }

  /** The level of a location: 1 for a root location. */
  private async depthOf(db: Db, location: LocationRow): Promise<number> {
    let depth = 1;
    let parentId = location.parent_location_id;
    while (parentId) {
      depth++;
      parentId = (await this.deps.repos.locations.findById(db, parentId))?.parent_location_id ?? null;
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

  /** Loads a location the caller can see; NOT_FOUND otherwise. */
  private async loadVisible(db: Db, principal: FleetPrincipal, id: string): Promise<LocationRow> {
    await this.deps.authz.access(db, principal, { type: 'location', id });
    return this.load(db, id);
  }

  private async load(db: Db, id: string): Promise<LocationRow> {
    const row = await this.deps.repos.locations.findById(db, id);
    if (!row) throw notFound('location not found');
    return row;
  }

  private async authOf(db: Db, locationId: string): Promise<LocationAuth> {
    const rows = await this.deps.repos.locations.listSecrets(db, locationId);
    return {
      locationId,
      secrets: rows.map((r) => ({
        id: r.id,
        secret: this.deps.secrets.open(r.secret_ciphertext),
        createdOn: new Date(r.created_at),
      })),
    };
  }

  private async view(db: Db, row: LocationRow, withAuth: boolean): Promise<Location> {
    const { repos } = this.deps;
    const org = await repos.organizations.findById(db, row.organization_id);
    const shares = await repos.locations.listShares(db, row.id);
    return {
      id: row.id,
      name: row.name,
      parentLocationId: row.parent_location_id ?? '',
      createdOn: new Date(row.created_at),
      region: row.region,
      primaryOrganization: { id: row.organization_id, name: org?.name ?? '' },
      organizations: [
        { organizationId: row.organization_id, primary: true },
        ...shares.map((organizationId) => ({ organizationId, primary: false })),
      ],
      robotCount: await repos.robots.countInLocation(db, row.id),
      auth: withAuth ? await this.authOf(db, row.id) : undefined,
    };
  }
}
