import type { Command } from 'commander';
import { loadCliConfig, saveCliConfig } from './cli-config.js';
import { connect, UsageError, type Session } from './connection.js';
import { Output, useColour, type Io } from './output.js';

/** The options every command takes (`flotilla --json machines list`, or after the command). */
export interface GlobalOptions {
  server?: string;
  json?: boolean;
}

/** What a command runs with: where to print, the environment, and a session opened on demand. */
export class CliContext {
  private opened: Session | undefined;
  /** The command being run, once the program has parsed the line (for usage errors). */
  running: Command | undefined;

  constructor(
    readonly io: Io,
    readonly env: NodeJS.ProcessEnv,
    readonly isTty: boolean,
  ) {}

  /** The output for a command, from its options and the global ones. */
  output(command: Command): Output {
    const globals = command.optsWithGlobals<GlobalOptions>();
    return new Output(this.io, globals.json === true, useColour(this.env, this.isTty));
  }

  /** The API, connected as `flotilla login` (or the environment) says; one per run. */
  async session(command: Command): Promise<Session> {
    this.opened ??= await connect({ server: command.optsWithGlobals<GlobalOptions>().server, env: this.env });
    return this.opened;
  }

  /** The organization a command acts in: its flag, else `flotilla defaults set-org`. */
  async organizationId(flag: string | undefined): Promise<string> {
    const id = flag ?? (await loadCliConfig(this.env))?.defaults.organizationId;
    if (!id)
      throw new UsageError(
        'name the organization with --organization (or set one: flotilla defaults set-org --org-id ID)',
      );
    return id;
  }

  /** The location a command acts in: its flag, else `flotilla defaults set-location`. */
  async locationId(flag: string | undefined): Promise<string> {
    const id = flag ?? (await loadCliConfig(this.env))?.defaults.locationId;
    if (!id)
      throw new UsageError(
        'name the location with --location (or set one: flotilla defaults set-location --location-id ID)',
      );
    return id;
  }

  /** Remembers a default in the saved login. */
  async setDefault(key: 'organizationId' | 'locationId', value: string): Promise<void> {
    const config = await loadCliConfig(this.env);
    if (!config) throw new UsageError('not logged in: run flotilla login first');
    await saveCliConfig(this.env, { ...config, defaults: { ...config.defaults, [key]: value } });
  }

  close(): void {
    this.opened?.close();
    this.opened = undefined;
  }
}
