import { UsageError } from './connection.js';
import type { Command } from 'commander';

/**
 * Flags as viam names them (`--organization`, `--location`, `--machine`, `--part`) with the
 * `--org-id`-style aliases Flotilla also accepts; both fill the same value.
 */
const ALIASES = {
  organization: 'org-id',
  location: 'location-id',
  machine: 'machine-id',
  part: 'part-id',
} as const;

export type Target = keyof typeof ALIASES;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Adds `--<name> <id>` and its alias to a command. */
export function targetOption(command: Command, name: Target, description: string): Command {
  return command
    .option(`--${name} <id>`, description)
    .option(`--${ALIASES[name]} <id>`, `the same as --${name}`);
}

/** The value given for a target flag or its alias. */
export function targetValue(options: Record<string, unknown>, name: Target): string | undefined {
  const value = options[name] ?? options[camel(ALIASES[name])];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The value of a target flag a command cannot do without (`--part` or `--part-id`). */
export function requiredTarget(options: Record<string, unknown>, name: Target): string {
  const value = targetValue(options, name);
  if (!value) throw new UsageError(`required option '--${name} <id>' (or --${ALIASES[name]}) not specified`);
  return value;
}
