import { appApi } from '@viamrobotics/sdk';
import type { Machine, MachinePart, PartHistoryEntry } from '../domain/models.js';
import type { OnlineState } from '../domain/online-state.js';
import type { MachineService } from '../services/machine-service.js';
import type { PartService } from '../services/part-service.js';
import { apiKeyToProto } from './api-key-handlers.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { dateOf, structFromObject, structToObject, timestamp } from './wire-values.js';
import { replyFor } from './pre-encoded.js';
import { spliceStruct } from './struct-codec.js';

const ONLINE_STATE: Record<OnlineState, appApi.OnlineState> = {
  online: appApi.OnlineState.ONLINE,
  offline: appApi.OnlineState.OFFLINE,
  awaiting_setup: appApi.OnlineState.AWAITING_SETUP,
};

/** How an editor is named on the wire (history entries). */
export const EDITOR_TYPE = {
  user: appApi.AuthenticationType.WEB_OAUTH,
  'api-key': appApi.AuthenticationType.API_KEY,
  'robot-part': appApi.AuthenticationType.ROBOT_PART_SECRET,
} as const;

const machineToProto = (m: Machine) =>
  new appApi.Robot({
    id: m.id,
    name: m.name,
    location: m.locationId,
    createdOn: timestamp(m.createdOn),
    ...(m.lastAccess ? { lastAccess: timestamp(m.lastAccess) } : {}),
    onlineState: ONLINE_STATE[m.onlineState],
    secondsSinceOnline: BigInt(m.secondsSinceOnline),
  });

/**
 * A part as RobotPart. With `fastStructs` (binary replies only) its config and agent info are
 * encoded by the fast Struct codec, and are invisible to JSON.
 */
export function partToProto(p: MachinePart, fastStructs = false): appApi.RobotPart {
  const part = new appApi.RobotPart({
    id: p.id,
    name: p.name,
    dnsName: p.dnsName,
    robot: p.machineId,
    locationId: p.locationId,
    mainPart: p.mainPart,
    fqdn: p.fqdn,
    localFqdn: p.localFqdn,
    createdOn: timestamp(p.createdOn),
    lastUpdated: timestamp(p.lastUpdated),
    ...(p.lastAccess ? { lastAccess: timestamp(p.lastAccess) } : {}),
    onlineState: ONLINE_STATE[p.onlineState],
    secondsSinceOnline: BigInt(p.secondsSinceOnline),
    ...(p.agentInfo && !fastStructs ? { userSuppliedInfo: structFromObject({ ...p.agentInfo }) } : {}),
    ...(p.config && !fastStructs ? { robotConfig: structFromObject(p.config) } : {}),
    secret: p.secrets?.[0]?.secret ?? '',
    secrets: (p.secrets ?? []).map((s) => ({
      id: s.id,
      secret: s.secret,
      createdOn: timestamp(s.createdOn),
      state: appApi.SharedSecret_State.ENABLED,
    })),
  });
  if (fastStructs) {
    if (p.agentInfo) spliceStruct(part, USER_SUPPLIED_INFO_FIELD, { ...p.agentInfo });
    if (p.config) spliceStruct(part, ROBOT_CONFIG_FIELD, p.config);
  }
  return part;
}

/** viam.app.v1.RobotPart's Struct fields. */
const ROBOT_CONFIG_FIELD = appApi.RobotPart.fields.findJsonName('robotConfig')?.no ?? 0;
const USER_SUPPLIED_INFO_FIELD = appApi.RobotPart.fields.findJsonName('userSuppliedInfo')?.no ?? 0;

const historyToProto = (h: PartHistoryEntry) =>
  new appApi.RobotPartHistoryEntry({
    part: h.partId,
    robot: h.machineId,
    when: timestamp(h.when),
    old: partToProto(h.old),
    editedBy: { type: EDITOR_TYPE[h.editor.type], value: h.editor.id, isDeactivated: false },
  });

/** AppService methods about machines and their parts. */
export function machineHandlers(machines: MachineService, parts: PartService): AppHandlers {
  return {
    async newRobot(req, ctx) {
      return { id: await machines.create(callerOf(ctx), req.location, req.name) };
    },
    async getRobot(req, ctx) {
      return { robot: machineToProto(await machines.get(callerOf(ctx), req.id)) };
    },
    async updateRobot(req, ctx) {
      return { robot: machineToProto(await machines.rename(callerOf(ctx), req.id, req.location, req.name)) };
    },
    async deleteRobot(req, ctx) {
      await machines.delete(callerOf(ctx), req.id);
      return {};
    },
    async listRobots(req, ctx) {
      return { robots: (await machines.listInLocation(callerOf(ctx), req.locationId)).map(machineToProto) };
    },
    async listRobotsForLocations(req, ctx) {
      return { robots: (await machines.listInLocations(callerOf(ctx), req.locationIds)).map(machineToProto) };
    },
    async listRobotsForOrg(req, ctx) {
      return { robots: (await machines.listInOrganization(callerOf(ctx), req.orgId)).map(machineToProto) };
    },
    async getRobotAPIKeys(req, ctx) {
      return { apiKeys: (await machines.apiKeys(callerOf(ctx), req.robotId)).map(apiKeyToProto) };
    },
    async getRoverRentalRobots(req, ctx) {
      return { robots: await machines.roverRentals(callerOf(ctx), req.orgId) };
    },
    async listMachineSummaries(req, ctx) {
      const summaries = await machines.summaries(callerOf(ctx), req.organizationId, {
        locationIds: req.locationIds,
        fragmentIds: req.fragmentIds,
        limit: req.limit,
      });
      return {
        locationSummaries: summaries.map((l) => ({
          locationId: l.locationId,
          locationName: l.locationName,
          machineSummaries: l.machines.map((m) => ({
            machineId: m.machine.id,
            machineName: m.machine.name,
            partSummaries: m.parts.map((p) => ({
              partId: p.id,
              partName: p.name,
              isMainPart: p.mainPart,
              onlineState: ONLINE_STATE[p.onlineState],
              secondsSinceOnline: BigInt(p.secondsSinceOnline),
              dnsName: p.dnsName,
              ...(p.lastAccess
                ? { lastAccess: timestamp(p.lastAccess), lastOnline: timestamp(p.lastAccess) }
                : {}),
              ...(p.agentInfo
                ? {
                    os: p.agentInfo.os,
                    ...(p.agentInfo.platform ? { platform: p.agentInfo.platform } : {}),
                    viamServerVersion: { version: { case: 'major' as const, value: p.agentInfo.version } },
                  }
                : {}),
            })),
          })),
        })),
      };
    },
    async getRobotParts(req, ctx) {
      return { parts: (await parts.listForMachine(callerOf(ctx), req.robotId)).map((p) => partToProto(p)) };
    },
    async getRobotPart(req, ctx) {
      const part = await parts.get(callerOf(ctx), req.id);
      const configJson = part.config ? JSON.stringify(part.config) : '';
      const reply = (fast: boolean) =>
        new appApi.GetRobotPartResponse({ part: partToProto(part, fast), configJson });
      return replyFor(
        appApi.GetRobotPartResponse,
        () => reply(true),
        () => reply(false),
      );
    },
    async getRobotPartByNameAndLocation(req, ctx) {
      return { part: partToProto(await parts.getByName(callerOf(ctx), req.locationId, req.name)) };
    },
    async newRobotPart(req, ctx) {
      return { partId: await parts.create(callerOf(ctx), req.robotId, req.partName) };
    },
    async updateRobotPart(req, ctx) {
      const part = await parts.update(callerOf(ctx), req.id, {
        name: req.name,
        config: req.robotConfig ? structToObject(req.robotConfig) : undefined,
        lastKnownUpdate: dateOf(req.lastKnownUpdate, 'last_known_update'),
      });
      return { part: partToProto(part) };
    },
    async deleteRobotPart(req, ctx) {
      await parts.delete(callerOf(ctx), req.partId);
      return {};
    },
    async markPartAsMain(req, ctx) {
      await parts.markAsMain(callerOf(ctx), req.partId);
      return {};
    },
    async markPartForRestart(req, ctx) {
      await parts.markForRestart(callerOf(ctx), req.partId);
      return {};
    },
    async createRobotPartSecret(req, ctx) {
      return { part: partToProto(await parts.createSecret(callerOf(ctx), req.partId)) };
    },
    async deleteRobotPartSecret(req, ctx) {
      await parts.deleteSecret(callerOf(ctx), req.partId, req.secretId);
      return {};
    },
    async getRobotPartHistory(req, ctx) {
      return { history: (await parts.history(callerOf(ctx), req.id)).map(historyToProto) };
    },
  };
}
