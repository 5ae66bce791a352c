import type { Access } from '../authz/authorizer.js';
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
import { compactDiff } from '../domain/audit-diff.js';
import { serializeBoundedConfig } from '../domain/config/config-size.js';
import { toRobotConfigJson } from '../domain/config/robot-config.js';
import { parseTriggers } from '../domain/config/triggers.js';
import { requireId, requireName } from '../domain/validation.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { PartChanges } from '../store/part-repository.js';
import type { MachineRecord, PartRecord } from '../store/records.js';
import { nextUpdateTime, requireUnchangedSince } from '../domain/optimistic-update.js';
import type { ServiceDeps } from './context.js';
import { usesOf, type FragmentResolver } from './fragment-resolver.js';
import { PartViews } from './part-views.js';

/** A part's config with its fragments merged in, and each fragment that could not be merged. */
export interface MergedPartConfig {
  config: Record<string, unknown>;
  fragmentErrors: { fragmentId: string; error: string }[];
}

/** A part holds one or two active secrets, as a location does. */
export const MAX_PART_SECRETS = 2;

/** Changing a part's secrets needs both: the secrets are shown in the reply. */
const SECRET_WRITE = ['write_robot', 'read_robot_secret'] as const;

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

  /**
   * The part's config as its machine receives it: its fragments merged in (before the conversion
   * for viam-server), with what could not be merged. Needs read_robot_config, like the config.
   */
  async mergedConfig(principal: FleetPrincipal, partId: string): Promise<MergedPartConfig> {
    const { db, authz, repos } = this.deps;
    const { record: part } = await authz.require(
      db,
      principal,
      { type: 'part', id: requireId(partId, 'id') },
      'read_robot_config',
    );
    const location = await repos.locations.findById(db, part.locationId);
    if (!location) throw notFound('part not found');
    const merged = await this.fragments.merged(db, location.organizationId, part.config);
    return {
      config: merged.config,
      fragmentErrors: merged.statuses.map(({ fragmentId, error }) => ({ fragmentId, error })),
    };
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
    const { db, authz } = this.deps;
    const access = await authz.require(
      db,
      principal,
      { type: 'part', id: requireId(partId, 'id') },
      'read_robot',
    );
    return this.view(db, access.record, access);
  }

  async getByName(principal: FleetPrincipal, locationId: string, rawName: string): Promise<MachinePart> {
    const location = requireId(locationId, 'location_id');
    const name = requireName(rawName, 'name');
    const { db, authz, repos } = this.deps;
    await authz.access(db, principal, { type: 'location', id: location });
    const found = await repos.parts.findByNameInLocation(db, location, name);
    if (!found) throw notFound('part not found');
    const access = await authz.require(db, principal, { type: 'part', id: found.id }, 'read_robot');
    return this.view(db, access.record, access);
  }

  /** Adds a part to a machine; returns its id. */
  async create(principal: FleetPrincipal, robotId: string, rawName: string): Promise<string> {
    const id = requireId(robotId, 'robot_id');
    const name = requireName(rawName, 'part_name');
    return this.deps.db.transaction().execute(async (trx) => {
      const { record: robot } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'robot', id },
        'write_robot',
      );
      return (await this.insertPart(trx, robot, name, false)).id;
    });
  }

  /** Creates a part with one secret inside an open transaction (also used for a machine's main part). */
  async insertPart(trx: Db, machine: MachineRecord, name: string, main: boolean): Promise<PartRecord> {
    const now = nowIso();
    const part: PartRecord = {
      id: newId(),
      machineId: machine.id,
      locationId: machine.locationId,
      name,
      dnsName: requireDnsName(name),
      mainPart: main,
      config: {},
      restartRequested: false,
      lastAccess: undefined,
      agentInfo: undefined,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.deps.repos.parts.create(trx, part);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateName(name);
      throw error;
    }
    await this.deps.repos.parts.addSecret(trx, {
      id: newId(),
      ownerId: part.id,
      sealed: this.deps.secrets.seal(newSharedSecret()),
      createdAt: now,
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
    const config = update.config;
    if (config !== undefined) {
      toRobotConfigJson(config);
      // Alert triggers: not served to machines, checked all the same.
      parseTriggers(config);
      // The size rule; the repository stores the config.
      serializeBoundedConfig(config);
    }
    return this.deps.db.transaction().execute(async (trx) => {
      const access = await this.deps.authz.require(trx, principal, { type: 'part', id }, 'write_robot', {
        lock: true,
      });
      const part = access.record;
      requireUnchangedSince('part', part.updatedAt, update.lastKnownUpdate);
      const now = nextUpdateTime(part.updatedAt);
      const changes: PartChanges = { name, dnsName: requireDnsName(name), updatedAt: now };
      if (name !== part.name) this.deps.audit.noteChanges({ name: { before: part.name, after: name } });
      if (config !== undefined) {
        changes.config = config;
        this.deps.audit.noteChanges({ config: compactDiff(part.config, config) });
        const location = await this.deps.repos.locations.findById(trx, part.locationId);
        const organizationId = location?.organizationId ?? '';
        const refs = await this.fragments.checkReferences(trx, organizationId, config);
        if (refs.length > 0) {
          // What the machine is served is the part merged with its fragments: it must convert too.
          await this.fragments.checkMerged(trx, organizationId, config).catch((error: unknown) => {
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
        partId: id,
        machineId: part.machineId,
        old: part,
        editedAt: now,
        editorType: principal.kind,
        editorId: editorIdOf(principal),
      });
      return this.view(trx, { ...part, ...changes }, access);
    });
  }

  /** Deletes a part other than the main one (a machine always keeps exactly one main part). */
  async delete(principal: FleetPrincipal, partId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    await this.deps.db.transaction().execute(async (trx) => {
      const { record: part } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'part', id },
        'write_robot',
        {
          lock: true,
        },
      );
      if (part.mainPart) {
        const siblings = await this.deps.repos.parts.listForRobots(trx, [part.machineId]);
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
      const { record: part } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'part', id },
        'write_robot',
        {
          lock: true,
        },
      );
      await this.deps.repos.parts.setMain(trx, part.machineId, id);
    });
  }

  /** The part is told to restart at its next NeedsRestart call. */
  async markForRestart(principal: FleetPrincipal, partId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'part', id }, 'write_robot');
      await this.deps.repos.parts.requestRestart(trx, id);
    });
  }

  async createSecret(principal: FleetPrincipal, partId: string): Promise<MachinePart> {
    const id = requireId(partId, 'part_id');
    return this.deps.db.transaction().execute(async (trx) => {
      const access = await this.deps.authz.require(trx, principal, { type: 'part', id }, SECRET_WRITE, {
        lock: true,
      });
      if ((await this.deps.repos.parts.listSecrets(trx, id)).length >= MAX_PART_SECRETS) {
        throw failedPrecondition(`a part has at most ${MAX_PART_SECRETS} secrets; delete one first`);
      }
      await this.deps.repos.parts.addSecret(trx, {
        id: newId(),
        ownerId: id,
        sealed: this.deps.secrets.seal(newSharedSecret()),
        createdAt: nowIso(),
      });
      return this.view(trx, access.record, access);
    });
  }

  /** Deletes a secret; tokens minted with it stop working at once. */
  async deleteSecret(principal: FleetPrincipal, partId: string, secretId: string): Promise<void> {
    const id = requireId(partId, 'part_id');
    const sid = requireId(secretId, 'secret_id');
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'part', id }, SECRET_WRITE, { lock: true });
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
    const { db, authz } = this.deps;
    const id = requireId(partId, 'id');
    const access = await authz.require(db, principal, { type: 'part', id }, 'read_robot_history');
    const history = await this.deps.repos.parts.listHistory(db, partId);
    const budget = new ReplyBudget();
    const entries: PartHistoryEntry[] = [];
    for (const record of history) {
      const entry: PartHistoryEntry = {
        partId: record.partId,
        machineId: record.machineId,
        when: new Date(record.editedAt),
        old: this.views.part(record.old, [], access.permissions),
        editor: { type: record.editorType, id: record.editorId } satisfies Editor,
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

  private async view(db: Db, part: PartRecord, access: Access): Promise<MachinePart> {
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
