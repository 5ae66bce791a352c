/*
 * What a benchmark report records about the run itself: the machine, Node, the git commit, the
 * versions of the packages that matter, and how busy the machine was when the run started.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this benchmark belongs to. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The packages whose versions every report names. */
const REPORTED_PACKAGES = [
  '@connectrpc/connect-node',
  '@bufbuild/protobuf',
  '@viamrobotics/sdk',
  'better-sqlite3',
];

export interface RunEnvironment {
  node: string;
  platform: string;
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  loadavgAtStart: number[];
  /** Machine CPU busy in a 0.5 s sample just before the run, % of one core. */
  busyBeforeStartPct: number | undefined;
  commit: string;
  /** `git status` shows changes under src/ (the numbers are then for uncommitted code). */
  srcDirty: boolean;
  versions: Record<string, string>;
}

/** `git` in the repository; undefined when it fails (no git, not a checkout). */
export function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The installed version of a package, '?' when it cannot be read. */
export function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      version?: string;
    };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

/**
 * The run's environment, read now. `extra` is recorded after `srcDirty` and before `versions`,
 * where a report wants more about the code that ran.
 */
export function runEnvironment<E extends object>(
  start: { loadavgAtStart: number[]; busyBeforeStartPct: number | undefined },
  extra: E,
): RunEnvironment & E {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavgAtStart: start.loadavgAtStart,
    busyBeforeStartPct: start.busyBeforeStartPct,
    commit: git(['rev-parse', 'HEAD']) ?? 'unknown',
    srcDirty: (git(['status', '--porcelain', '--', 'src']) ?? '') !== '',
    ...extra,
    versions: Object.fromEntries(REPORTED_PACKAGES.map((n) => [n, packageVersion(n)])),
  };
}

/** The report's date: now, to the second. */
export const reportDate = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
