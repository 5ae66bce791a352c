import type { Command } from 'commander';
import { loadCliConfig, saveCliConfig } from '../cli-config.js';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { isoOf } from '../values.js';

/** An authorization as the command line shows it: `owner on organization <id>`. */
interface AuthorizationView {
  role: string;
  resourceType: string;
  resourceId: string;
  organizationId: string;
}

/** The role of an authorization id such as `organization_owner` (the id itself when it is not). */
const roleOf = (authorizationId: string, resourceType: string): string =>
  authorizationId.startsWith(`${resourceType}_`)
    ? authorizationId.slice(resourceType.length + 1)
    : authorizationId;

const summary = (a: AuthorizationView) => `${a.role} on ${a.resourceType} ${a.resourceId}`;

export function registerKeyCommands(program: Command, ctx: CliContext): void {
  const keys = program
    .command('keys')
    .description("an organization's API keys: list, rotate, rename, delete");

  targetOption(
    keys.command('list').description("list an organization's API keys and what each may do"),
    'organization',
    'the organization (default: flotilla defaults set-org)',
  ).action(async (options: Record<string, unknown>, command: Command) => {
    const s = await ctx.session(command);
    const orgId = await ctx.organizationId(targetValue(options, 'organization'));
    const { apiKeys } = await s.app.listKeys({ orgId });
    const rows = apiKeys.map((k) => ({
      id: k.apiKey?.id ?? '',
      name: k.apiKey?.name ?? '',
      createdOn: isoOf(k.apiKey?.createdOn),
      authorizations: k.authorizations.map((a): AuthorizationView => ({
        role: roleOf(a.authorizationId, a.resourceType),
        resourceType: a.resourceType,
        resourceId: a.resourceId,
        organizationId: a.orgId,
      })),
    }));
    ctx.output(command).rows(rows, [
      { heading: 'name', value: (k) => k.name },
      { heading: 'id', value: (k) => k.id },
      { heading: 'created', value: (k) => k.createdOn },
      { heading: 'authorizations', value: (k) => k.authorizations.map(summary).join(', ') || '(none)' },
    ]);
  });

  keys
    .command('rotate')
    .description('give a key a new value (the old one stops working at once); prints it once')
    .requiredOption('--key-id <id>', 'the API key id')
    .action(async (options: { keyId: string }, command: Command) => {
      const s = await ctx.session(command);
      const rotated = await s.app.rotateKey({ id: options.keyId });
      const output = ctx.output(command);
      // The key this command line is logged in with: keep the login working with its new value.
      const config = await loadCliConfig(ctx.env);
      if (
        !ctx.env.FLOTILLA_API_KEY_ID &&
        config?.server === s.server &&
        config.credential.type === 'api-key' &&
        config.credential.keyId === rotated.id
      ) {
        await saveCliConfig(ctx.env, {
          ...config,
          credential: { ...config.credential, key: rotated.key },
          accessToken: '',
        });
        output.note('the saved login uses this key: it now uses the new value');
      }
      output.result(
        { id: rotated.id, key: rotated.key },
        (k) => `API key rotated (the new key is shown only now):\n  id:  ${k.id}\n  key: ${k.key}`,
      );
    });

  keys
    .command('rename')
    .description('rename an API key')
    .requiredOption('--key-id <id>', 'the API key id')
    .requiredOption('--name <name>', 'its new name')
    .action(async (options: { keyId: string; name: string }, command: Command) => {
      const s = await ctx.session(command);
      const renamed = await s.app.renameKey({ id: options.keyId, name: options.name });
      ctx
        .output(command)
        .result({ id: renamed.id, name: renamed.name }, (k) => `renamed API key ${k.id} to ${k.name}`);
    });

  keys
    .command('delete')
    .description('delete an API key (it and its tokens stop working at once)')
    .requiredOption('--key-id <id>', 'the API key id')
    .action(async (options: { keyId: string }, command: Command) => {
      const s = await ctx.session(command);
      await s.app.deleteKey({ id: options.keyId });
      ctx.output(command).result({ id: options.keyId, deleted: true }, (k) => `deleted API key ${k.id}`);
    });
}
