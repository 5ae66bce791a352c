import type { FleetPrincipal } from '../authz/principal.js';
import { alreadyExists, invalidArgument } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { ApiKey, LocationSummary, Machine } from '../domain/models.js';
import { requireId, requireName } from '../domain/validation.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { JsonObject, MachineRecord } from '../store/records.js';
import type { ServiceDeps } from './context.js';
import { toApiKey } from './mappers.js';
import type { PartService } from './part-service.js';
import { PartViews } from './part-views.js';

/** Most machines ListMachineSummaries returns when the request sets no limit. */
export const DEFAULT_SUMMARY_LIMIT = 1000;

/** Machines (robots): a named set of parts in one location. */
export class MachineService {
  private readonly views: PartViews;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly parts: PartService,
  ) {
    this.views = new PartViews(deps.secrets, deps.settings.domain);
  }

  /** Creates a machine with its main part, `<name>-main`; returns the machine id. */
  async create(principal: FleetPrincipal, locationId: string, rawName: string): Promise<string> {
    const location = requireId(locationId, 'location');
    const name = requireName(rawName, 'name');
    return this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'location', id: location }, 'write_robot');
      const machine: MachineRecord = {
        id: newId(),
        locationId: location,
        name,
        createdAt: nowIso(),
      };
      await this.insertMachine(trx, machine);
      await this.parts.insertPart(trx, machine, `${name}-main`, true);
      return machine.id;
    });
  }

  async get(principal: FleetPrincipal, robotId: string): Promise<Machine> {
    const id = requireId(robotId, 'id');
    const { db, authz, repos } = this.deps;
    const { record: robot } = await authz.require(db, principal, { type: 'robot', id }, 'read_robot');
    return this.views.machine(robot, await repos.parts.listForRobots(db, [id]));
  }

  /** Renames a machine; it cannot change location. */
  async rename(
    principal: FleetPrincipal,
    robotId: string,
    locationId: string,
    rawName: string,
  ): Promise<Machine> {
    const id = requireId(robotId, 'id');
    const name = requireName(rawName, 'name');
    const { repos, authz } = this.deps;
    return this.deps.db.transaction().execute(async (trx) => {
      const { record: robot } = await authz.require(trx, principal, { type: 'robot', id }, 'write_robot');
      if (locationId !== '' && locationId !== robot.locationId) {
        throw invalidArgument('a machine cannot be moved to another location');
      }
      try {
        await repos.robots.rename(trx, id, name);
      } catch (error) {
        if (isUniqueViolation(error))
          throw alreadyExists(`a machine named "${name}" already exists in this location`);
        throw error;
      }
      return this.views.machine({ ...robot, name }, await repos.parts.listForRobots(trx, [id]));
    });
  }

  /** Deletes a machine with its parts, their secrets, history and logs, and roles granted on it. */
  async delete(principal: FleetPrincipal, robotId: string): Promise<void> {
    const id = requireId(robotId, 'id');
    const { repos, authz } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await authz.require(trx, principal, { type: 'robot', id }, 'write_robot');
      await repos.authorizations.deleteForResource(trx, 'robot', id);
      const parts = await repos.parts.listForRobots(trx, [id]);
      await repos.fragments.deleteUsesBy(
        trx,
        'part',
        parts.map((p) => p.id),
      );
      await repos.robots.delete(trx, id);
    });
  }

  /** Machines of one location. */
  async listInLocation(principal: FleetPrincipal, locationId: string): Promise<Machine[]> {
    const id = requireId(locationId, 'location_id');
    await this.deps.authz.access(this.deps.db, principal, { type: 'location', id });
    return this.visibleMachines(this.deps.db, principal, [id]);
  }

  /** Machines of several locations; each location must be visible to the caller. */
  async listInLocations(principal: FleetPrincipal, locationIds: readonly string[]): Promise<Machine[]> {
    const ids = [...new Set(locationIds.map((id) => requireId(id, 'location_ids')))];
    for (const id of ids) await this.deps.authz.access(this.deps.db, principal, { type: 'location', id });
    return this.visibleMachines(this.deps.db, principal, ids);
  }

  /** Machines of an organization's locations (its own and shared ones) that the caller can see. */
  async listInOrganization(principal: FleetPrincipal, organizationId: string): Promise<Machine[]> {
    const orgId = requireId(organizationId, 'org_id');
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    const locations = await repos.locations.listForOrganization(db, orgId);
    return this.visibleMachines(
      db,
      principal,
      locations.map((l) => l.id),
    );
  }

  /**
   * Rover rentals are a program of the hosted service: there are none here, but the
   * organization must be one the caller can see.
   */
  async roverRentals(principal: FleetPrincipal, organizationId: string): Promise<never[]> {
    const orgId = requireId(organizationId, 'org_id');
    await this.deps.authz.require(
      this.deps.db,
      principal,
      { type: 'organization', id: orgId },
      'read_organization',
    );
    return [];
  }

  /** API keys holding a role on this machine. */
  async apiKeys(principal: FleetPrincipal, robotId: string): Promise<ApiKey[]> {
    const id = requireId(robotId, 'robot_id');
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, { type: 'robot', id }, 'write_robot');
    const grants = (await repos.authorizations.listForResource(db, 'robot', id)).filter(
      (g) => g.identityType === 'api-key',
    );
    const keys = await repos.apiKeys.listByIds(
      db,
      grants.map((g) => g.identityId),
    );
    return keys.map((key) => toApiKey(key, grants));
  }

  /**
   * Per location of the organization that the caller can see: its machines and their parts,
   * optionally only some locations, only machines using one of some fragments, at most `limit` machines.
   */
  async summaries(
    principal: FleetPrincipal,
    organizationId: string,
    filter: { locationIds: readonly string[]; fragmentIds: readonly string[]; limit: number | undefined },
  ): Promise<LocationSummary[]> {
    const orgId = requireId(organizationId, 'organization_id');
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    if (filter.limit !== undefined && filter.limit < 0) throw invalidArgument('limit must not be negative');
    const limit = filter.limit || DEFAULT_SUMMARY_LIMIT;
    const all = await repos.locations.listForOrganization(db, orgId);
    let locations = await authz.visibleLocations(db, principal, orgId, all);
    if (filter.locationIds.length > 0) locations = locations.filter((l) => filter.locationIds.includes(l.id));
    const robots = await this.visibleRobots(
      db,
      principal,
      locations.map((l) => l.id),
    );
    const parts = await repos.parts.listForRobots(
      db,
      robots.map((r) => r.id),
    );
    const usesFragment = (robotId: string) =>
      parts.some(
        (p) => p.machineId === robotId && fragmentIdsOf(p.config).some((f) => filter.fragmentIds.includes(f)),
      );
    const chosen = (filter.fragmentIds.length > 0 ? robots.filter((r) => usesFragment(r.id)) : robots).slice(
      0,
      limit,
    );
    const noSecrets = new Set<never>();
    return locations
      .map((location) => ({
        locationId: location.id,
        locationName: location.name,
        machines: chosen
          .filter((r) => r.locationId === location.id)
          .map((r) => ({
            machine: this.views.machine(r, parts),
            parts: parts.filter((p) => p.machineId === r.id).map((p) => this.views.part(p, [], noSecrets)),
          })),
      }))
      .filter((summary) => summary.machines.length > 0 || filter.locationIds.includes(summary.locationId));
  }

  private async visibleMachines(
    db: Db,
    principal: FleetPrincipal,
    locationIds: readonly string[],
  ): Promise<Machine[]> {
    const robots = await this.visibleRobots(db, principal, locationIds);
    const parts = await this.deps.repos.parts.listForRobots(
      db,
      robots.map((r) => r.id),
    );
    return robots.map((r) => this.views.machine(r, parts));
  }

  /** Machines in these locations on which the caller holds a role (through any scope). */
  private async visibleRobots(
    db: Db,
    principal: FleetPrincipal,
    locationIds: readonly string[],
  ): Promise<MachineRecord[]> {
    const { authz, repos } = this.deps;
    const robots = await repos.robots.listInLocations(db, locationIds);
    const grants = await authz.grantsOf(db, principal);
    const scopes = await authz.scopesOfMachines(db, robots);
    const visible: MachineRecord[] = [];
    for (const robot of robots) {
      const scope = scopes.get(robot.id);
      if (scope && authz.rolesOn(grants, scope).size > 0) visible.push(robot);
    }
    return visible;
  }

  private async insertMachine(trx: Db, machine: MachineRecord): Promise<void> {
    try {
      await this.deps.repos.robots.create(trx, machine);
    } catch (error) {
      if (isUniqueViolation(error))
        throw alreadyExists(`a machine named "${machine.name}" already exists in this location`);
      throw error;
    }
  }
}

/** Fragment ids a part config lists under `fragments` (ids or `{id}` objects). */
function fragmentIdsOf(config: JsonObject): string[] {
  if (!Array.isArray(config.fragments)) return [];
  return config.fragments.flatMap((f: unknown) => {
    if (typeof f === 'string') return [f];
    if (f && typeof f === 'object' && typeof (f as { id?: unknown }).id === 'string')
      return [(f as { id: string }).id];
    return [];
  });
}
