import { Command, CommanderError, Option } from 'commander';
import { CliContext } from './context.js';
import { UsageError } from './connection.js';
import { describeFailure, type Io } from './output.js';
import { registerSessionCommands } from './commands/session.js';
import { registerOrganizationCommands } from './commands/organizations.js';
import { registerLocationCommands } from './commands/locations.js';
import { registerMachineCommands } from './commands/machines.js';
import { registerPartCommands } from './commands/parts.js';
import { registerFragmentCommands } from './commands/fragments.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerModuleCommands } from './commands/modules.js';
import { registerAuditCommands } from './commands/audit.js';

/** Exit codes: 0 done, 1 the server (or the machine) refused, 2 usage error. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The server-side commands, handled before the client program (src/cli/main.ts). */
export const SERVER_COMMANDS: readonly [string, string][] = [
  ['init', 'initialize a data directory: first user, organization and owner key'],
  ['serve', 'run the server'],
  ['start', 'init with defaults on a fresh data directory, then serve (npm start)'],
  ['invite-link', 'print the accept link of a pending invite'],
];

/** The `flotilla` program: every client command, a thin client of the public API. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('flotilla')
    .description(
      'Flotilla: a self-hosted fleet management server, and the command line to run a fleet with it',
    )
    .addOption(new Option('--server <url>', 'the Flotilla server (default: the one you logged in to)'))
    .addOption(new Option('--base-url <url>', 'the same as --server, as viam names it').hideHelp())
    .option('--json', 'print one JSON document on stdout')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err })
    .hook('preAction', (_program, action) => {
      ctx.running = action;
      const globals = action.optsWithGlobals<{ server?: string; baseUrl?: string }>();
      if (globals.baseUrl && !globals.server) program.setOptionValue('server', globals.baseUrl);
    });
  for (const [name, description] of SERVER_COMMANDS) {
    program
      .command(name)
      .description(description)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments();
  }
  registerSessionCommands(program, ctx);
  registerOrganizationCommands(program, ctx);
  registerLocationCommands(program, ctx);
  registerMachineCommands(program, ctx);
  registerPartCommands(program, ctx);
  registerFragmentCommands(program, ctx);
  registerKeyCommands(program, ctx);
  registerModuleCommands(program, ctx);
  registerAuditCommands(program, ctx);
  // Every command and subcommand exits through runClient, with the same output.
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err });
    command.showHelpAfterError();
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  return program;
}

/** Runs a client command; resolves with the exit code. */
export async function runClient(
  argv: readonly string[],
  io: Io,
  env: NodeJS.ProcessEnv,
  isTty = Boolean(process.stdout.isTTY),
): Promise<number> {
  const ctx = new CliContext(io, env, isTty);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version print and exit 0; anything else is a usage error, already printed.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      // The mistake, then the usage of the command it was made in.
      const usage = error.showUsage ? `\n${(ctx.running ?? program).helpInformation()}` : '';
      io.err(`flotilla: ${error.message}\n${usage}`);
      return EXIT_USAGE;
    }
    io.err(`flotilla: ${describeFailure(error)}\n`);
    return EXIT_FAILED;
  } finally {
    ctx.close();
  }
}
