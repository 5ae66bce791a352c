import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** How the command line proves who it is: an API key (re-authenticates by itself) or a user's token. */
export type StoredCredential =
  { type: 'api-key'; keyId: string; key: string } | { type: 'user'; email: string };

/** What `flotilla login` keeps between runs (`~/.flotilla/cached_cli_config.json`). */
export interface CliConfig {
  server: string;
  credential: StoredCredential;
  /** The last access token ('' when none is valid); its expiry is read from the token itself. */
  accessToken: string;
  defaults: { organizationId?: string; locationId?: string };
}

export const CONFIG_FILE = 'cached_cli_config.json';

/** The directory of the CLI's state: FLOTILLA_HOME, else ~/.flotilla. */
export const cliHome = (env: NodeJS.ProcessEnv): string => env.FLOTILLA_HOME || join(homedir(), '.flotilla');

export const configPath = (env: NodeJS.ProcessEnv): string => join(cliHome(env), CONFIG_FILE);

export async function loadCliConfig(env: NodeJS.ProcessEnv): Promise<CliConfig | undefined> {
  let text: string;
  try {
    text = await readFile(configPath(env), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as CliConfig;
  } catch {
    throw new Error(`${configPath(env)} is not valid JSON; run flotilla login again`);
  }
}

/** Saves the configuration readable by its owner only (directory 0700, file 0600). */
export async function saveCliConfig(env: NodeJS.ProcessEnv, config: CliConfig): Promise<void> {
  const dir = cliHome(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = configPath(env);
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

export async function removeCliConfig(env: NodeJS.ProcessEnv): Promise<boolean> {
  const file = configPath(env);
  try {
    await rm(file);
    return true;
  } catch {
    return false;
  }
}
