import type { Command } from 'commander';
import type { Session } from '../connection.js';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { isoOf } from '../values.js';

/**
 * `... api-key create`: a key holding owner on an organization, a location or a machine, printed
 * with its value (shown this once). `--name` names it, else the server names it by the time.
 */
export async function createOwnerKey(
  ctx: CliContext,
  command: Command,
  s: Session,
  scope: { organizationId: string; resourceType: 'organization' | 'location' | 'robot'; resourceId: string },
  name: unknown,
): Promise<void> {
  const key = await s.app.createKey({
    authorizations: [
      {
        authorizationType: 'role',
        authorizationId: `${scope.resourceType}_owner`,
        resourceType: scope.resourceType,
        resourceId: scope.resourceId,
        organizationId: scope.organizationId,
        identityId: '',
        identityType: '',
      },
    ],
    name: typeof name === 'string' ? name : '',
  });
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
      const scope = { organizationId, resourceType: 'organization', resourceId: organizationId } as const;
      await createOwnerKey(ctx, command, s, scope, options.name);
    });
}
