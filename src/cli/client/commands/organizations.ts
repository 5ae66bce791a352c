import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { isoOf } from '../values.js';

/** An owner key on an organization, a location or a machine, as CreateKey takes it. */
export function ownerAuthorization(organizationId: string, resourceType: string, resourceId: string) {
  return {
    authorizationType: 'role',
    authorizationId: `${resourceType}_owner`,
    resourceType,
    resourceId,
    organizationId,
    identityId: '',
    identityType: '',
  };
}

/** Prints a key made by `... api-key create`: its value is shown this once. */
export function printIssuedKey(ctx: CliContext, command: Command, key: { id: string; key: string }): void {
  ctx
    .output(command)
    .result(
      { id: key.id, key: key.key },
      () => `API key created (the key is shown only now):\n  id:  ${key.id}\n  key: ${key.key}`,
    );
}

export function registerOrganizationCommands(program: Command, ctx: CliContext): void {
  const organizations = program.command('organizations').description('organizations you belong to');
  organizations
    .command('list')
    .description('list the organizations you can see')
    .action(async (_options: unknown, command: Command) => {
      const s = await ctx.session(command);
      const { organizations: list } = await s.app.listOrganizations({});
      const rows = list.map((o) => ({
        id: o.id,
        name: o.name,
        publicNamespace: o.publicNamespace,
        createdOn: isoOf(o.createdOn),
      }));
      ctx.output(command).rows(rows, [
        { heading: 'name', value: (o) => o.name },
        { heading: 'id', value: (o) => o.id },
        { heading: 'namespace', value: (o) => o.publicNamespace },
      ]);
    });

  const apiKey = organizations.command('api-key').description("an organization's API keys");
  targetOption(
    apiKey.command('create').description('create an API key with owner on the organization'),
    'organization',
    'the organization (default: flotilla defaults set-org)',
  )
    .option('--name <name>', 'a name for the key (default: the time)')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const organizationId = await ctx.organizationId(targetValue(options, 'organization'));
      const name = typeof options.name === 'string' ? options.name : '';
      const key = await s.app.createKey({
        authorizations: [ownerAuthorization(organizationId, 'organization', organizationId)],
        name,
      });
      printIssuedKey(ctx, command, key);
    });
}
