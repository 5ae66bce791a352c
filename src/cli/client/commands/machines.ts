import type { Struct, Timestamp } from '@bufbuild/protobuf';
import { appApi } from '@viamrobotics/sdk';
import type { Command } from 'commander';
import { livenessOf, type OnlineState } from '../../../domain/online-state.js';
import type { Session } from '../connection.js';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { machineNamed } from '../resolve.js';
import { ago, isoOf } from '../values.js';
import { organizationIdOfLocation } from './locations.js';
import { createOwnerKey } from './organizations.js';

const STATES: Partial<Record<appApi.OnlineState, OnlineState>> = {
  [appApi.OnlineState.ONLINE]: 'online',
  [appApi.OnlineState.OFFLINE]: 'offline',
  [appApi.OnlineState.AWAITING_SETUP]: 'awaiting_setup',
};

/** How a machine or part is doing: the server's online state, else judged from its last access. */
export function livenessOfWire(state: appApi.OnlineState, lastAccess: Timestamp | undefined) {
  const iso = isoOf(lastAccess);
  const status = STATES[state] ?? livenessOf(lastAccess?.toDate()).state;
  return { lastAccess: iso, online: status === 'online', status };
}

/** The status for people: `online`, `offline (last seen 5m ago)`, `awaiting setup`. */
export function statusText(liveness: { status: OnlineState; lastAccess: string }): string {
  if (liveness.status === 'online') return 'online';
  if (liveness.status === 'awaiting_setup') return 'awaiting setup';
  return liveness.lastAccess ? `offline (last seen ${ago(liveness.lastAccess)})` : 'offline';
}

/** What a part's agent said about itself (RobotPart.userSuppliedInfo), as plain fields. */
function agentInfoOf(info: Struct | undefined) {
  const json = (info?.toJson() ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof json[key] === 'string' ? json[key] : '');
  return {
    host: text('host'),
    os: text('os'),
    platform: text('platform'),
    version: text('version'),
    gitRevision: text('gitRevision'),
    ips: Array.isArray(json.ips) ? json.ips.filter((ip): ip is string => typeof ip === 'string') : [],
  };
}

const organizationFlag =
  'where to find a machine named by name (default: flotilla defaults set-org, else all you see)';

/** The locations `machines list` covers, with their names. */
async function locationsToList(
  ctx: CliContext,
  s: Session,
  options: Record<string, unknown>,
): Promise<{ id: string; name: string }[]> {
  const organization = targetValue(options, 'organization');
  const location = targetValue(options, 'location');
  const ofOrganizations = async (organizationIds: readonly string[]) => {
    const found: { id: string; name: string }[] = [];
    for (const organizationId of organizationIds) {
      const { locations } = await s.app.listLocations({ organizationId });
      found.push(...locations.map((l) => ({ id: l.id, name: l.name })));
    }
    return found;
  };
  if (options.all === true) {
    if (organization) return ofOrganizations([organization]);
    const { organizations } = await s.app.listOrganizations({});
    return ofOrganizations(organizations.map((o) => o.id));
  }
  if (organization && !location) return ofOrganizations([organization]);
  const locationId = await ctx.locationId(location);
  const found = (await s.app.getLocation({ locationId })).location;
  return [{ id: locationId, name: found?.name ?? '' }];
}

export function registerMachineCommands(program: Command, ctx: CliContext): void {
  const machines = program
    .command('machines')
    .description('machines: list, create, rename, delete, status, their parts and logs');

  const list = machines
    .command('list')
    .description("list the machines of a location, an organization's, or all you can see");
  targetOption(list, 'organization', 'list every location of this organization instead of one location');
  targetOption(list, 'location', 'the location (default: flotilla defaults set-location)')
    .option('--all', "every location: the organization's if given, else every organization's you see")
    .action(async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const rows = [];
      for (const location of await locationsToList(ctx, s, options)) {
        const { robots } = await s.app.listRobots({ locationId: location.id });
        for (const robot of robots) {
          rows.push({
            id: robot.id,
            name: robot.name,
            locationId: robot.location || location.id,
            locationName: location.name,
            ...livenessOfWire(robot.onlineState, robot.lastAccess),
          });
        }
      }
      ctx.output(command).rows(rows, [
        { heading: 'name', value: (m) => m.name },
        { heading: 'id', value: (m) => m.id },
        { heading: 'location', value: (m) => m.locationName },
        { heading: 'status', value: (m) => statusText(m) },
      ]);
    });

  const create = machines
    .command('create')
    .description('create a machine (with its main part)')
    .requiredOption('--name <name>', 'the name of the new machine');
  targetOption(create, 'location', 'the location (default: flotilla defaults set-location)').action(
    async (options: Record<string, unknown>, command: Command) => {
      const locationId = await ctx.locationId(targetValue(options, 'location'));
      const s = await ctx.session(command);
      const { id } = await s.app.newRobot({ name: options.name as string, location: locationId });
      const { parts } = await s.app.getRobotParts({ robotId: id });
      const mainPart = parts.find((p) => p.mainPart) ?? parts[0];
      const created = { id, name: options.name as string, locationId, mainPartId: mainPart?.id ?? '' };
      ctx
        .output(command)
        .result(created, (m) =>
          [
            `machine created: ${m.name}`,
            `  id:        ${m.id}`,
            `  location:  ${m.locationId}`,
            `  main part: ${m.mainPartId}`,
          ].join('\n'),
        );
    },
  );

  const update = targetOption(
    machines.command('update').description('rename a machine'),
    'machine',
    'the machine (id or name)',
  ).requiredOption('--new-name <name>', 'the new name of the machine');
  targetOption(update, 'organization', organizationFlag).action(
    async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const id = await machineNamed(ctx, s, options);
      const { robot } = await s.app.getRobot({ id });
      const updated = (
        await s.app.updateRobot({ id, name: options.newName as string, location: robot?.location ?? '' })
      ).robot;
      const result = {
        id,
        name: updated?.name ?? (options.newName as string),
        locationId: updated?.location ?? robot?.location ?? '',
      };
      ctx.output(command).result(result, (m) => `machine ${m.id} renamed to ${m.name}`);
    },
  );

  const remove = machines
    .command('delete')
    .description('delete a machine with its parts, their configs and logs');
  targetOption(remove, 'machine', 'the machine (id or name)');
  targetOption(remove, 'organization', organizationFlag).action(
    async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const id = await machineNamed(ctx, s, options);
      await s.app.deleteRobot({ id });
      ctx.output(command).result({ id, deleted: true }, (m) => `machine ${m.id} deleted`);
    },
  );

  const status = machines
    .command('status')
    .description('show a machine and its parts: online state, last access, host, version, addresses');
  targetOption(status, 'machine', 'the machine (id or name)');
  targetOption(status, 'organization', organizationFlag).action(
    async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const id = await machineNamed(ctx, s, options);
      const { robot } = await s.app.getRobot({ id });
      if (!robot) throw new Error(`the server returned no machine ${id}`);
      const { parts } = await s.app.getRobotParts({ robotId: id });
      const result = {
        id: robot.id,
        name: robot.name,
        locationId: robot.location,
        createdOn: isoOf(robot.createdOn),
        ...livenessOfWire(robot.onlineState, robot.lastAccess),
        parts: parts.map((p) => ({
          id: p.id,
          name: p.name,
          mainPart: p.mainPart,
          fqdn: p.fqdn,
          ...livenessOfWire(p.onlineState, p.lastAccess),
          ...agentInfoOf(p.userSuppliedInfo),
        })),
      };
      const output = ctx.output(command);
      output.result(result, (m) => {
        const seen = (x: { lastAccess: string }) =>
          x.lastAccess ? `${x.lastAccess} (${ago(x.lastAccess)})` : 'never';
        const partTable = output.table(m.parts, [
          { heading: 'name', value: (p) => p.name },
          { heading: 'id', value: (p) => p.id },
          { heading: 'main', value: (p) => (p.mainPart ? 'yes' : '') },
          { heading: 'status', value: (p) => p.status.replace('_', ' ') },
          { heading: 'last access', value: (p) => ago(p.lastAccess) },
          { heading: 'host', value: (p) => p.host },
          { heading: 'platform', value: (p) => p.platform || p.os },
          { heading: 'version', value: (p) => p.version },
          { heading: 'ips', value: (p) => p.ips.join(',') },
        ]);
        return [
          `machine:     ${m.name} (${m.id})`,
          `location:    ${m.locationId}`,
          `status:      ${statusText(m)}`,
          `last access: ${seen(m)}`,
          '',
          partTable,
        ].join('\n');
      });
    },
  );

  const apiKey = machines.command('api-key').description("a machine's API keys");
  const createKey = apiKey.command('create').description('create an API key with owner on the machine');
  targetOption(createKey, 'machine', 'the machine (id or name)');
  targetOption(
    createKey,
    'organization',
    "the machine's organization: where to find it by name, and the key's (default: its location's)",
  )
    .option('--name <name>', 'a name for the key (default: the time)')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const id = await machineNamed(ctx, s, options);
      const { robot } = await s.app.getRobot({ id });
      if (!robot) throw new Error(`the server returned no machine ${id}`);
      const organizationId =
        targetValue(options, 'organization') ?? (await organizationIdOfLocation(s, robot.location));
      await createOwnerKey(
        ctx,
        command,
        s,
        { organizationId, resourceType: 'robot', resourceId: id },
        options.name,
      );
    });
}
