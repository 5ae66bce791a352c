import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadServerConfig, resolveDataDir } from '../config.js';
import { hasServerKeys } from '../crypto/server-keys.js';
import { DomainError } from '../domain/errors.js';
import { requireEmail, requireName } from '../domain/validation.js';
import { startServer } from '../server/create-server.js';
import { AlreadyInitializedError, initializeDataDir } from './init-command.js';
import { inviteLink } from './invite-link-command.js';
import { runClient } from './client/program.js';

const USAGE = `usage (the server side; flotilla --help lists the client commands):
  flotilla init [--data-dir DIR] [--database-url URL] --email EMAIL --org NAME [--password PW] [--json]
  flotilla serve [--data-dir DIR] [--listen HOST:PORT] [--database-url URL] [--tls-cert FILE --tls-key FILE]
  flotilla start   (npm start: init with defaults on a fresh data directory, then serve)
  flotilla invite-link --org-id ID --email EMAIL [--data-dir DIR]   (the accept link of a pending invite)
`;

/** Exit codes: 0 done, 1 failed, 2 usage error. */
const EXIT_USAGE = 2;

class UsageError extends Error {}

type Io = { out: (s: string) => void; err: (s: string) => void };
const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function parse<T extends ParseArgsConfig['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Runs the command line; resolves with the process exit code. */
export async function main(
  argv: string[],
  io: Io = stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'init':
        return await initCommand(args, io, env);
      case 'serve':
        return await serveCommand(args, io, env, false);
      case 'start':
        return await serveCommand(args, io, env, true);
      case 'invite-link':
        return await inviteLinkCommand(args, io, env);
      case undefined:
        io.err(`flotilla: missing command\n${USAGE}`);
        return EXIT_USAGE;
      case 'help':
        return await runClient(['--help'], io, env);
      default:
        // Every other command is a client of the public API (src/cli/client/).
        return await runClient(argv, io, env);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`flotilla: ${error.message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      io.err(`flotilla: ${error.message}\n`);
      return EXIT_USAGE;
    }
    io.err(`flotilla: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function initCommand(args: string[], io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const values = parse(args, {
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    email: { type: 'string' },
    org: { type: 'string' },
    password: { type: 'string' },
    json: { type: 'boolean' },
  });
  const databaseUrl = values['database-url'] ?? (env.FLOTILLA_DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError('--database-url (FLOTILLA_DATABASE_URL) must be a postgres:// URL');
  }
  if (values.email === undefined) throw new UsageError('--email is required');
  if (values.org === undefined) throw new UsageError('--org is required');
  let email: string;
  let orgName: string;
  try {
    email = requireEmail(values.email);
    orgName = requireName(values.org, '--org');
  } catch (error) {
    if (error instanceof DomainError) throw new UsageError(error.message);
    throw error;
  }
  if (values.password === '') throw new UsageError('--password must not be empty');
  const dataDir = resolveDataDir(values['data-dir'], env);
  try {
    const result = await initializeDataDir(dataDir, databaseUrl, {
      email,
      organizationName: orgName,
      password: values.password,
    });
    if (values.json) {
      io.out(
        JSON.stringify({
          user_id: result.userId,
          organization_id: result.organizationId,
          api_key_id: result.apiKeyId,
          api_key: result.apiKey,
        }) + '\n',
      );
    } else {
      io.err(`initialized ${dataDir}\n`);
      io.out(
        `user id: ${result.userId}\norganization id: ${result.organizationId}\nAPI key id: ${result.apiKeyId}\nAPI key: ${result.apiKey}\n`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof AlreadyInitializedError) {
      io.err(`flotilla: ${error.message}; nothing changed\n`);
      return 1;
    }
    throw error;
  }
}

async function inviteLinkCommand(args: string[], io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const values = parse(args, {
    'data-dir': { type: 'string' },
    'org-id': { type: 'string' },
    email: { type: 'string' },
  });
  if (!values['org-id']) throw new UsageError('--org-id is required');
  if (!values.email) throw new UsageError('--email is required');
  const dataDir = resolveDataDir(values['data-dir'], env);
  if (!hasServerKeys(dataDir, env)) {
    io.err(`flotilla: ${dataDir} is not initialized\n`);
    return 1;
  }
  io.out((await inviteLink(dataDir, values['org-id'], values.email, env)) + '\n');
  return 0;
}

async function serveCommand(
  args: string[],
  io: Io,
  env: NodeJS.ProcessEnv,
  initIfFresh: boolean,
): Promise<number> {
  const values = parse(args, {
    'data-dir': { type: 'string' },
    listen: { type: 'string' },
    'database-url': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  });
  const config = loadServerConfig(
    {
      dataDir: values['data-dir'],
      listen: values.listen,
      databaseUrl: values['database-url'],
      tlsCert: values['tls-cert'],
      tlsKey: values['tls-key'],
    },
    env,
  );
  let firstKey: { id: string; key: string } | undefined;
  // On PostgreSQL, startServer refuses a directory without keys, saying what to copy there.
  if (!hasServerKeys(config.dataDir, env) && (initIfFresh || config.databaseUrl === undefined)) {
    if (!initIfFresh) {
      io.err(
        `flotilla: ${config.dataDir} is not initialized; run \`flotilla init --email EMAIL --org NAME\` first\n`,
      );
      return 1;
    }
    const result = await initializeDataDir(config.dataDir, config.databaseUrl, {
      email: 'admin@localhost',
      organizationName: 'My Organization',
      password: undefined,
    });
    firstKey = { id: result.apiKeyId, key: result.apiKey };
  }
  // Listen for the stop signals before anything is printed: a signal that arrives before a
  // listener exists would kill the process instead of stopping it cleanly.
  const stopRequested = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  const server = await startServer(config);
  io.out(`flotilla listening on ${server.url}\n`);
  // `serve` prints only the listening line (others parse its stdout); `start` is for people.
  if (initIfFresh && server.servesConsole) io.out(`web console: ${server.url}/\n`);
  if (firstKey) io.out(connectionHelp(server.url, firstKey));
  await stopRequested;
  await server.close();
  return 0;
}

/** Printed once, when `npm start` initializes a fresh data directory. */
function connectionHelp(url: string, key: { id: string; key: string }): string {
  return `
Initialized a new data directory with organization "My Organization" (admin@localhost).
This key is shown only now; keep it.
API key id: ${key.id}
API key: ${key.key}

Open the web console at ${url}/ and sign in with this API key.

Connect with the TypeScript SDK:

  import { createViamClient } from '@viamrobotics/sdk';
  const client = await createViamClient({
    serviceHost: '${url}',
    credentials: { type: 'api-key', authEntity: '${key.id}', payload: '${key.key}' },
  });
  console.log(await client.appClient.listOrganizations());

Or from the terminal (another one):

  npm run flotilla -- login api-key --server ${url} --key-id ${key.id} --key ${key.key}
  npm run flotilla -- organizations list

`;
}
