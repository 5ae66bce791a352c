import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  configPath,
  loadCliConfig,
  removeCliConfig,
  saveCliConfig,
  type StoredCredential,
} from '../cli-config.js';
import { authenticate, normalizeServer, UsageError } from '../connection.js';
import type { CliContext } from '../context.js';
import { readStdin } from '../json-input.js';

/** Reads a password: from a prompt that does not echo on a terminal, else one line of stdin. */
async function readPassword(ctx: CliContext): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return (await readStdin(ctx.io, '')).replace(/\r?\n$/, '');
  const rl = createInterface({ input, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  ctx.io.err('Password: ');
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    ctx.io.err('\n');
  }
}

/**
 * Logs in to the server named by --server with `credential`, and saves the login (keeping the
 * defaults set for that server). Returns the server's URL.
 */
async function logIn(
  ctx: CliContext,
  command: Command,
  credential: StoredCredential,
  /** The password or key, asked for only once the server is known. */
  secret: () => Promise<string>,
): Promise<string> {
  const { server } = command.optsWithGlobals<{ server?: string }>();
  if (!server)
    throw new UsageError(`${command.name() === 'login' ? 'login' : 'login api-key'} needs --server URL`);
  const url = normalizeServer(server);
  const [entity, type] =
    credential.type === 'user'
      ? [credential.email, 'password' as const]
      : [credential.keyId, 'api-key' as const];
  const token = await authenticate(url, entity, { type, payload: await secret() });
  const previous = await loadCliConfig(ctx.env);
  await saveCliConfig(ctx.env, {
    server: url,
    credential,
    accessToken: token,
    defaults: previous?.server === url ? previous.defaults : {},
  });
  return url;
}

export function registerSessionCommands(program: Command, ctx: CliContext): void {
  const login = program
    .command('login')
    .description(
      'log in with an email and password (or see: login api-key); the login is kept for later commands',
    )
    .option('--email <email>', 'your email (the password is read from a prompt, or stdin)')
    .action(async (options: { email?: string }, command: Command) => {
      if (!options.email) throw new UsageError('login needs --email (or use: flotilla login api-key)');
      const credential = { type: 'user', email: options.email } as const;
      const url = await logIn(ctx, command, credential, () => readPassword(ctx));
      ctx
        .output(command)
        .result({ server: url, email: options.email }, () => `logged in to ${url} as ${options.email}`);
    });
  login
    .command('api-key')
    .description('log in with an API key (it logs in again by itself when its token expires)')
    .requiredOption('--key-id <id>', 'the API key id')
    .requiredOption('--key <key>', 'the API key')
    .action(async (options: { keyId: string; key: string }, command: Command) => {
      const credential = { type: 'api-key', keyId: options.keyId, key: options.key } as const;
      const url = await logIn(ctx, command, credential, () => Promise.resolve(options.key));
      ctx
        .output(command)
        .result(
          { server: url, keyId: options.keyId, config: configPath(ctx.env) },
          () => `logged in to ${url} with API key ${options.keyId}`,
        );
    });

  program
    .command('logout')
    .description('forget the saved login')
    .action(async (_options: unknown, command: Command) => {
      const removed = await removeCliConfig(ctx.env);
      ctx
        .output(command)
        .result({ loggedOut: removed }, () => (removed ? 'logged out' : 'was not logged in'));
    });

  program
    .command('whoami')
    .description('show the server and the identity of the saved login')
    .action(async (_options: unknown, command: Command) => {
      const config = await loadCliConfig(ctx.env);
      if (!config) throw new UsageError('not logged in');
      const who =
        config.credential.type === 'user' ? config.credential.email : `API key ${config.credential.keyId}`;
      ctx.output(command).result(
        {
          server: config.server,
          identity:
            config.credential.type === 'user'
              ? { email: config.credential.email }
              : { keyId: config.credential.keyId },
          defaults: config.defaults,
        },
        () => `${who} on ${config.server}`,
      );
    });

  const defaults = program
    .command('defaults')
    .description('set the organization and location commands use by default');
  defaults
    .command('set-org')
    .description('use this organization when a command names none')
    .requiredOption('--org-id <id>', 'the organization id')
    .action(async (options: { orgId: string }, command: Command) => {
      await ctx.setDefault('organizationId', options.orgId);
      ctx
        .output(command)
        .result({ organizationId: options.orgId }, () => `default organization: ${options.orgId}`);
    });
  defaults
    .command('set-location')
    .description('use this location when a command names none')
    .requiredOption('--location-id <id>', 'the location id')
    .action(async (options: { locationId: string }, command: Command) => {
      await ctx.setDefault('locationId', options.locationId);
      ctx
        .output(command)
        .result({ locationId: options.locationId }, () => `default location: ${options.locationId}`);
    });
}
