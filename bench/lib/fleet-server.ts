/*
 * Flotilla child of the machines benchmark: the real server on a seeded fleet.
 *
 * `prepare` initializes the data directory (as `flotilla init`), starts the server, makes the
 * template machine through the public API, stops the server, clones the template into a fleet
 * of the asked size with better-sqlite3 (fleet-seed.ts), starts the server again on that
 * database (as `flotilla start` would after a restart) and checks a sample of machines through
 * the API. Then it answers CPU snapshots (whole process and main thread) and can profile its
 * main thread (node:inspector) for the rows that miss a target.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { findSourceMap } from 'node:module';
import { loadServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server/create-server.js';
import {
  cloneFleet,
  createTemplate,
  verifyFleet,
  type FleetTemplate,
  type SeededFleet,
} from './fleet-seed.js';
import { startBenchFlotilla, type FlotillaReady } from './flotilla-instance.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

export interface PrepareSpec {
  dataDir: string;
  machines: number;
  perLocation: number;
  sampleSize: number;
  locationSample: number;
  /** Sampled machines checked through the API after the restart. */
  verifyParts: number;
}

export interface PreparedFleet extends SeededFleet {
  ready: FlotillaReady;
  template: FleetTemplate;
  /** The server's start on the seeded database, ms. */
  restartMs: number;
  verifyMs: number;
}

/** CPU of the whole process and of its main thread (the event loop), ms; wall clock, ms. */
export interface FleetServerStats {
  cpuMs: number;
  wallMs: number;
  mainThreadMs: number | undefined;
  /** The server's SQLite log writer and search indexer threads, ms, where /proc tells them apart. */
  writerMs?: number;
  indexerMs?: number;
}

let server: RunningServer | undefined;
let dataDir: string | undefined;
let profiler: Session | undefined;

const start = (dir: string) =>
  startServer(loadServerConfig({ dataDir: dir, listen: '127.0.0.1:0' }, { FLOTILLA_LOG_LEVEL: 'error' }));

async function prepare(payload: unknown): Promise<PreparedFleet> {
  const spec = payload as PrepareSpec;
  dataDir = spec.dataDir;
  const first = await startBenchFlotilla(spec.dataDir);
  server = first.server;
  const template = await createTemplate(first.server.url, first.ready);
  await first.server.close();
  server = undefined;
  const fleet = cloneFleet(spec.dataDir, template, spec.machines, spec);
  // The clone ran in this process: its garbage goes now, so the server starts as after a restart
  // (a heap of several hundred MB left to collect would stall the rows that follow).
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = performance.now();
  const threadsBefore = new Set(threadIds());
  server = await start(spec.dataDir);
  // The server starts two worker threads, the log writer first, then the search indexer
  // (SqlitePartLogStore); thread ids grow, so the new ones, in order, are those two.
  const started = threadIds().filter((tid) => !threadsBefore.has(tid));
  workerThreads = started.length === 2 ? { writer: started[0]!, indexer: started[1]! } : undefined;
  const restartMs = performance.now() - t0;
  const ready = { ...first.ready, url: server.url };
  const verifyMs = await verifyFleet(server.url, ready, template, fleet, spec.verifyParts);
  return { ...fleet, ready, template, restartMs, verifyMs };
}

let workerThreads: { writer: number; indexer: number } | undefined;

/** This process's thread ids, ascending, from /proc (Linux); none elsewhere. */
function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task')
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** A thread's CPU time from /proc (Linux), ms; undefined elsewhere or once it is gone. */
function threadMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks of 10 ms (USER_HZ = 100).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function stats(): FleetServerStats {
  const writerMs = workerThreads && threadMs(workerThreads.writer);
  const indexerMs = workerThreads && threadMs(workerThreads.indexer);
  return {
    ...cpuSnapshot(),
    mainThreadMs: threadMs(process.pid),
    ...(writerMs !== undefined && indexerMs !== undefined ? { writerMs, indexerMs } : {}),
  };
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))),
  );
}

async function profileStart(): Promise<void> {
  if (profiler) return;
  profiler = new Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  // 500 µs between samples: enough detail for a few seconds' profile, little overhead.
  await post(profiler, 'Profiler.setSamplingInterval', { interval: 500 });
  await post(profiler, 'Profiler.start');
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes?: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Makes the profile about the server: frames point at the TypeScript source (tsx runs each
 * module as one generated line, so the profiler's positions mean something only through the
 * module's source map), and the samples taken inside this file (starting and stopping the
 * profiler, which takes the main thread for a while) are left out.
 */
function cleanProfile(profile: CpuProfile): void {
  const nodes = profile.nodes ?? [];
  const parent = new Map<number, ProfileNode>();
  for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node);
  const ours = new Set<number>();
  const self = import.meta.url;
  for (const node of nodes) {
    for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id)) {
      if (n.callFrame.url === self) {
        ours.add(node.id);
        break;
      }
    }
  }
  if (profile.samples && profile.timeDeltas) {
    const keep = profile.samples.map((id) => !ours.has(id));
    const deltas = profile.timeDeltas;
    profile.timeDeltas = deltas.filter((_, k) => keep[k]);
    profile.samples = profile.samples.filter((_, k) => keep[k]);
  }
  for (const { callFrame: frame } of nodes) {
    if (!frame.url.startsWith('file:') || !/\.[cm]?tsx?$/.test(frame.url)) continue;
    const entry = findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry && 'originalLine' in entry) {
      frame.lineNumber = entry.originalLine;
      frame.columnNumber = entry.originalColumn;
    }
  }
}

/** Stops the main-thread profile and writes it to `file` (a .cpuprofile). */
async function profileStop(payload: unknown): Promise<{ file: string } | undefined> {
  const session = profiler;
  if (!session) return undefined;
  profiler = undefined;
  const { profile } = await post<{ profile: CpuProfile }>(session, 'Profiler.stop');
  session.disconnect();
  cleanProfile(profile);
  const { file } = payload as { file: string };
  writeFileSync(file, JSON.stringify(profile));
  return { file };
}

serveParent(
  'fleet server',
  {
    prepare,
    stats,
    profileStart,
    profileStop,
    stop: async () => {
      await server?.close();
      return {};
    },
  },
  () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  },
);
