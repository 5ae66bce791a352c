import type { Access } from '../authz/authorizer.js';
import type { Permission } from '../authz/permissions.js';
import type { FleetPrincipal } from '../authz/principal.js';
import {
  alreadyExists,
  DomainError,
  failedPrecondition,
  invalidArgument,
  notFound,
} from '../domain/errors.js';
import { newId, newSharedSecret } from '../domain/ids.js';
import type { Editor, MachinePart, PartHistoryEntry } from '../domain/models.js';
import { dnsNameOf } from '../domain/part-address.js';
import {
  entryBytes,
  jsonBytes,
  MAX_REPLY_ENTRY_BYTES,
  omittedObject,
  partBytes,
  ReplyBudget,
} from '../domain/reply-budget.js';
import { serializeBoundedConfig } from '../domain/config-size.js';
import { toRobotConfigJson } from '../domain/robot-config.js';
import { requireId, requireName } from '../domain/validation.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { PartChanges } from '../store/part-repository.js';
import type { RobotPartRow, RobotRow } from '../store/schema.js';
import type { ServiceDeps } from './context.js';
import { usesOf, type FragmentResolver } from './fragment-resolver.js';
import { PartViews } from './part-views.js';

/** A part holds one or two active secrets, as a location does. */
export const MAX_PART_SECRETS = 2;

export interface PartUpdate {
  name: string;
  /** The new JSON config; undefined keeps the current one. */
  config: Record<string, unknown> | undefined;
  /** When the caller last read the part: the update fails if it changed since. */
  lastKnownUpdate: Date | undefined;
}

/** Machine parts: their config, secrets, main flag, restarts and history. */
export class PartService {
  private readonly views: PartViews;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly fragments: FragmentResolver,
  ) {
    this.views = new PartViews(deps.secrets, deps.settings.domain);
  }

  /** Parts of a machine, the main part first. */
  async listForMachine(principal: FleetPrincipal, robotId: string): Promise<MachinePart[]> {
    const id = requireId(robotId, 'robot_id');
    const { db, authz, repos } = this.deps;
    const access = await authz.require(db, principal, { type: 'robot', id }, 'read_robot');
    const parts = await repos.parts.listForRobots(db, [id]);
    const secrets = await repos.parts.listSecretsForParts(
      db,
      parts.map((p) => p.id),
    );
    return parts.map((p) => this.views.part(p, secrets, access.permissions));
  }

  async get(principal: FleetPrincipal, partId: string): Promise<MachinePart> {
    const { db } = this.deps;
    const { part, access } = await this.loadWith(db, principal, requireId(partId, 'id'), 'read_robot');
    return this.view(db, part, access);
  }

  async getByName(principal: FleetPrincipal, locationId: string, rawName: string): Promise<MachinePart> {
    const location = requireId(locationId, 'location_id');
    const name = requireName(rawName, 'name');
    const { db, authz, repos } = this.deps;
    await authz.access(db, principal, { type: 'location', id: location });
    const part = await repos.parts.findByNameInLocation(db, location, name);
    if (!part) throw notFound('part not found');
    const access = await authz.require(db, principal, { type: 'robot', id: part.robot_id }, 'read_robot');
    return this.view(db, part, access);
  }

  /** Adds a part to a machine; returns its id. */
  async create(principal: FleetPrincipal, robotId: string, rawName: string): Promise<string> {
    const id = requireId(robotId, 'robot_id');
    const name = requireName(rawName, 'part_name');
    return this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'robot', id }, 'write_robot');
      const robot = await this.deps.repos.robots.findById(trx, id);
      if (!robot) throw notFound('machine not found');
      return (await this.insertPart(trx, robot, name, false)).id;
    });
  }

  /** Creates a part row with one secret inside an open transaction (also used for a machine's main part). */
  async insertPart(trx: Db, robot: RobotRow, name: string, main: boolean): Promise<RobotPartRow> {
    const now = nowIso();
    const part: RobotPartRow = {
      id: newId(),
      robot_id: robot.id,
      location_id: robot.location_id,
      name,
      dns_name: requireDnsName(name),
      main_part: main ? 1 : 0,
      config: '{}',
      metadata: '{}',
      restart_requested: 0,
      last_access: null,
      agent_info: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.deps.repos.parts.create(trx, part);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateName(name);
      throw error;
    }
    await this.deps.repos.parts.addSecret(trx, {
      id: newId(),
      part_id: part.id,
      secret_ciphertext: this.deps.secrets.seal(newSharedSecret()),
      created_at: now,
    });
    return part;
  }

  /**
   * Renames a part and replaces its config. The config is checked with the same conversion that
   * RobotService.Config serves, so a stored config always converts. Each accepted update keeps
   * the old part in the history.
   */
  async update(principal: FleetPrincipal, partId: string, update: PartUpdate): Promise<MachinePart> {
    const id = requireId(partId, 'id');
    const name = requireName(update.name, 'name');
    let config: string | undefined;
    if (update.config !== undefined) {
      toRobotConfigJson(update.config);
      config = serializeBoundedConfig(update.config);
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const { part, access } = await this.loadWith(trx, principal, id, 'write_robot', true);
      if (
        update.lastKnownUpdate &&
        new Date(part.updated_at).getTime() !== update.lastKnownUpdate.getTime()
      ) {
        throw failedPrecondition('the part changed since last_known_update; read it again and retry');
      }
      // Strictly after the last update, so last_known_update and history order never tie.
      const now = new Date(Math.max(Date.now(), new Date(part.updated_at).getTime() + 1)).toISOString();
      const changes: PartChanges = { name, dns_name: requireDnsName(name), updated_at: now };
      if (config !== undefined && update.config !== undefined) {
        changes.config = config;
        const location = await this.deps.repos.locations.findById(trx, part.location_id);
        const organizationId = location?.organization_id ?? '';
        const refs = await this.fragments.checkReferences(trx, organizationId, update.config);
        if (refs.length > 0) {
          // What the machine is served is the part merged with its fragments: it must convert too.
          await this.fragments.checkMerged(trx, organizationId, update.config).catch((error: unknown) => {
            if (error instanceof DomainError && error.kind === 'invalid_argument') {
              throw invalidArgument(`the config merged with its fragments is not valid: ${error.message}`);
            }
            throw error;
          });
        }
        await this.deps.repos.fragments.setUses(trx, 'part', id, usesOf(refs));
      }
      try {
        await this.deps.repos.parts.update(trx, id, changes);
      } catch (error) {
        if (isUniqueViolation(error)) throw duplicateName(name);
        throw error;
      }
      await this.deps.repos.parts.addHistory(trx, {
        id: newId(),
        part_id: id,
        robot_id: part.robot_id,
        old_part: JSON.stringify(part),
        edited_at: now,
        editor_type: principal.kind,
        editor_id: editorIdOf(principal),
      });
      return this.view(trx, { ...part, ...changes }, access);
    });
  }

  /** Deletes a part other than the main one (a machine always keeps exactly one main part). */
  async delete(principal: FleetPrincipal, partId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    await this.deps.db.transaction().execute(async (trx) => {
      const { part } = await this.loadWith(trx, principal, id, 'write_robot', true);
      if (part.main_part === 1) {
        const siblings = await this.deps.repos.parts.listForRobots(trx, [part.robot_id]);
        throw failedPrecondition(
          siblings.length > 1
            ? 'the main part cannot be deleted while the machine has other parts; mark another part as main first'
            : 'a machine keeps its main part; delete the machine instead',
        );
      }
      await this.deps.repos.fragments.deleteUsesBy(trx, 'part', [id]);
      await this.deps.repos.parts.delete(trx, id);
    });
  }

  async markAsMain(principal: FleetPrincipal, partId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    await this.deps.db.transaction().execute(async (trx) => {
      const { part } = await this.loadWith(trx, principal, id, 'write_robot', true);
      await this.deps.repos.parts.setMain(trx, part.robot_id, id);
    });
  }

  /** The part is told to restart at its next NeedsRestart call. */
  async markForRestart(principal: FleetPrincipal, partId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    await this.deps.db.transaction().execute(async (trx) => {
      await this.loadWith(trx, principal, id, 'write_robot');
      await this.deps.repos.parts.requestRestart(trx, id);
    });
  }

  async createSecret(principal: FleetPrincipal, partId: string): Promise<MachinePart> {
    const id = requireId(partId, 'part_id');
    return this.deps.db.transaction().execute(async (trx) => {
      const { part, access } = await this.loadSecretWriter(trx, principal, id);
      if ((await this.deps.repos.parts.listSecrets(trx, id)).length >= MAX_PART_SECRETS) {
        throw failedPrecondition(`a part has at most ${MAX_PART_SECRETS} secrets; delete one first`);
      }
      await this.deps.repos.parts.addSecret(trx, {
        id: newId(),
        part_id: id,
        secret_ciphertext: this.deps.secrets.seal(newSharedSecret()),
        created_at: nowIso(),
      });
      return this.view(trx, part, access);
    });
  }

  /** Deletes a secret; tokens minted with it stop working at once. */
  async deleteSecret(principal: FleetPrincipal, partId: string, secretId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    const sid = requireId(secretId, 'secret_id');
    await this.deps.db.transaction().execute(async (trx) => {
      await this.loadSecretWriter(trx, principal, id);
      const secrets = await this.deps.repos.parts.listSecrets(trx, id);
      if (!secrets.some((s) => s.id === sid)) throw notFound('secret not found');
      if (secrets.length <= 1) throw failedPrecondition('a part keeps at least one secret');
      await this.deps.repos.parts.deleteSecret(trx, id, sid);
    });
  }

  /**
   * Accepted updates of a part, newest first, each with the part as it was before. The reply has
   * no page token, so it stops before REPLY_BUDGET_BYTES (older entries are left out), and an
   * entry too large for any reply has its old config replaced by a `_truncated` note.
   */
  async history(principal: FleetPrincipal, partId: string): Promise<PartHistoryEntry[]> {
    const { db } = this.deps;
    const { access } = await this.loadWith(db, principal, requireId(partId, 'id'), 'read_robot_history');
    const rows = await this.deps.repos.parts.listHistory(db, partId);
    const budget = new ReplyBudget();
    const entries: PartHistoryEntry[] = [];
    for (const row of rows) {
      const entry: PartHistoryEntry = {
        partId: row.part_id,
        machineId: row.robot_id,
        when: new Date(row.edited_at),
        old: this.views.part(JSON.parse(row.old_part) as RobotPartRow, [], access.permissions),
        editor: { type: row.editor_type, id: row.editor_id } satisfies Editor,
      };
      const size = () => entryBytes(partBytes(entry.old), entry.partId, entry.machineId, entry.editor.id);
      let bytes = size();
      if (bytes > MAX_REPLY_ENTRY_BYTES && entry.old.config) {
        const why = 'this history entry is too large for one reply';
        entry.old = { ...entry.old, config: omittedObject('config', jsonBytes(entry.old.config), why) };
        bytes = size();
      }
      if (bytes > MAX_REPLY_ENTRY_BYTES) {
        entry.old = { ...entry.old, agentInfo: undefined };
        bytes = size();
      }
      if (!budget.take(bytes)) break;
      entries.push(entry);
    }
    return entries;
  }

  private async loadSecretWriter(trx: Db, principal: FleetPrincipal, id: string) {
    const loaded = await this.loadWith(trx, principal, id, 'write_robot', true);
    await this.deps.authz.require(trx, principal, loaded.access.scope.resource, 'read_robot_secret');
    return loaded;
  }

  /** Loads a part the caller holds `permission` on (through its machine); NOT_FOUND if invisible. */
  private async loadWith(
    db: Db,
    principal: FleetPrincipal,
    id: string,
    permission: Permission,
    lockForWrite = false,
  ): Promise<{ part: RobotPartRow; access: Access }> {
    let part = await this.deps.repos.parts.findById(db, id);
    if (part && lockForWrite) {
      // Writes to a machine's parts take turns; read the part again once it is ours.
      await this.deps.repos.robots.lock(db, part.robot_id);
      part = await this.deps.repos.parts.findById(db, id);
    }
    if (!part) throw notFound('part not found');
    const machine = { type: 'robot', id: part.robot_id } as const;
    const access = await this.deps.authz.require(db, principal, machine, permission, 'part not found');
    return { part, access };
  }

  private async view(db: Db, part: RobotPartRow, access: Access): Promise<MachinePart> {
    const secrets = await this.deps.repos.parts.listSecrets(db, part.id);
    return this.views.part(part, secrets, access.permissions);
  }
}

function requireDnsName(name: string): string {
  const dns = dnsNameOf(name);
  if (dns === '') throw invalidArgument('a part name needs at least one letter or digit');
  return dns;
}

const duplicateName = (name: string) =>
  alreadyExists(`a part named "${name}" (or with the same DNS name) already exists in this location`);

/** How history names an editor: a user by email, a key or part by id. */
const editorIdOf = (principal: FleetPrincipal): string =>
  principal.kind === 'user' ? principal.email : principal.id;
