import type { Command } from 'commander';
import type { Session } from '../connection.js';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { isoOf } from '../values.js';
import { createOwnerKey } from './organizations.js';

/** The organization a location belongs to, as GetLocation or ListLocations return it. */
export function organizationOfLocation(location: {
  primaryOrgIdentity?: { id: string };
  organizations: readonly { organizationId: string; primary: boolean }[];
}): string {
  return (
    location.primaryOrgIdentity?.id ||
    location.organizations.find((o) => o.primary)?.organizationId ||
    location.organizations[0]?.organizationId ||
    ''
  );
}

/** The organization id of a location, read with GetLocation. */
export async function organizationIdOfLocation(s: Session, locationId: string): Promise<string> {
  const { location } = await s.app.getLocation({ locationId });
  const organizationId = location ? organizationOfLocation(location) : '';
  if (!organizationId) throw new Error(`the server named no organization for location ${locationId}`);
  return organizationId;
}

export function registerLocationCommands(program: Command, ctx: CliContext): void {
  const locations = program.command('locations').description('locations: the places machines belong to');

  targetOption(
    locations.command('list').description("list an organization's locations"),
    'organization',
    'the organization (default: flotilla defaults set-org)',
  ).action(async (options: Record<string, unknown>, command: Command) => {
    const organizationId = await ctx.organizationId(targetValue(options, 'organization'));
    const s = await ctx.session(command);
    const { locations: list } = await s.app.listLocations({ organizationId });
    const rows = list.map((l) => ({
      id: l.id,
      name: l.name,
      parentLocationId: l.parentLocationId,
      organizationId: organizationOfLocation(l) || organizationId,
      robotCount: l.robotCount,
      createdOn: isoOf(l.createdOn),
    }));
    const names = new Map(rows.map((l) => [l.id, l.name]));
    ctx.output(command).rows(rows, [
      { heading: 'name', value: (l) => l.name },
      { heading: 'id', value: (l) => l.id },
      { heading: 'parent', value: (l) => names.get(l.parentLocationId) ?? l.parentLocationId },
      { heading: 'machines', value: (l) => String(l.robotCount) },
    ]);
  });

  const create = locations
    .command('create')
    .description('create a location')
    .requiredOption('--name <name>', 'the name of the new location');
  targetOption(create, 'organization', 'the organization (default: flotilla defaults set-org)')
    .option('--parent-location <id>', 'the id of the location to nest the new one in')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const organizationId = await ctx.organizationId(targetValue(options, 'organization'));
      const s = await ctx.session(command);
      const { location } = await s.app.createLocation({
        organizationId,
        name: options.name as string,
        parentLocationId: typeof options.parentLocation === 'string' ? options.parentLocation : undefined,
      });
      if (!location) throw new Error('the server returned no location');
      const created = {
        id: location.id,
        name: location.name,
        parentLocationId: location.parentLocationId,
        organizationId: organizationOfLocation(location) || organizationId,
      };
      ctx
        .output(command)
        .result(created, (l) =>
          [
            `location created: ${l.name}`,
            `  id:     ${l.id}`,
            ...(l.parentLocationId ? [`  parent: ${l.parentLocationId}`] : []),
          ].join('\n'),
        );
    });

  const apiKey = locations.command('api-key').description("a location's API keys");
  targetOption(
    apiKey.command('create').description('create an API key with owner on the location'),
    'location',
    'the location (default: flotilla defaults set-location)',
  )
    .option('--name <name>', 'a name for the key (default: the time)')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const locationId = await ctx.locationId(targetValue(options, 'location'));
      const s = await ctx.session(command);
      const organizationId = await organizationIdOfLocation(s, locationId);
      const scope = { organizationId, resourceType: 'location', resourceId: locationId } as const;
      await createOwnerKey(ctx, command, s, scope, options.name);
    });
}
