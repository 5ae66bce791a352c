/*
 * Flotilla child for the logs benchmark: the real server (as `flotilla init` + `flotilla start`
 * run it) on SQLite in a fresh data directory, plus what the benchmark needs to see inside it:
 *
 * - how far the SQLite search index runs behind, from read-only connections of its own to the
 *   two database files (`search_state.indexed_through` against `max(seq)` of `part_logs`);
 * - CPU time per thread (the main thread, the threads that appeared once the server started,
 *   i.e. its worker threads, and the rest: V8 and libuv helpers), the main thread's event-loop
 *   utilization and its scheduler counters;
 * - optionally a CPU profile of the main thread per phase (node:inspector).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import SQLite, { type Database as SqliteDatabase } from 'better-sqlite3';
import type { RunningServer } from '../../src/server/create-server.js';
import { sqliteFileIn } from '../../src/store/database.js';
import { searchFileFor } from '../../src/store/sqlite-log-search.js';
import { startBenchFlotilla, type FlotillaReady } from './flotilla-instance.js';
import { serveParent } from './ipc.js';
import { cpuSnapshot } from './stats.js';

/** CPU milliseconds by thread group, and the main thread's event-loop counters. */
export interface ServerStats {
  cpuMs: number;
  wallMs: number;
  mainThreadMs: number;
  /**
   * Threads that appeared once the server started: its worker threads (on SQLite, the log
   * store's), plus any libuv pool thread started later.
   */
  serverThreadsMs: number;
  /** The same, thread by thread (tid: ms). */
  serverThreadsDetail: Record<string, number>;
  /** Everything else: V8 platform (GC, compiler) and libuv threads. */
  otherThreadsMs: number;
  elu: { idle: number; active: number };
  /** The main thread's scheduler counters: on CPU and runnable-but-waiting (ns), voluntary switches. */
  mainSched: { onCpuNs: number; runWaitNs: number; voluntarySwitches: number } | undefined;
}

export interface LagSample {
  /** Date.now() of the sample. */
  atMs: number;
  newestSeq: number;
  indexedThroughSeq: number;
}

let server: RunningServer | undefined;
let dataDir: string | undefined;
let mainDb: SqliteDatabase | undefined;
let searchDb: SqliteDatabase | undefined;
let threadsBefore = new Set<string>();
let sampler: NodeJS.Timeout | undefined;
let samples: LagSample[] = [];
const MAX_SAMPLES = 20_000;
let profiler: Session | undefined;

const TICK_MS = 1000 / 100; // USER_HZ on Linux

function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(tid, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return out;
}

function mainSched(): ServerStats['mainSched'] {
  try {
    const [onCpuNs, runWaitNs] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
    const voluntary = /^voluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1];
    if (onCpuNs === undefined || runWaitNs === undefined || voluntary === undefined) return undefined;
    return { onCpuNs, runWaitNs, voluntarySwitches: Number(voluntary) };
  } catch {
    return undefined;
  }
}

function stats(): ServerStats {
  const threads = threadCpuMs();
  const main = String(process.pid);
  let mainThreadMs = 0;
  let serverThreadsMs = 0;
  let otherThreadsMs = 0;
  const serverThreadsDetail: Record<string, number> = {};
  for (const [tid, ms] of threads) {
    if (tid === main) mainThreadMs += ms;
    else if (threadsBefore.has(tid)) otherThreadsMs += ms;
    else {
      serverThreadsMs += ms;
      serverThreadsDetail[tid] = ms;
    }
  }
  const { idle, active } = performance.eventLoopUtilization();
  return {
    ...cpuSnapshot(),
    mainThreadMs,
    serverThreadsMs,
    serverThreadsDetail,
    otherThreadsMs,
    elu: { idle, active },
    mainSched: mainSched(),
  };
}

function lagNow(): LagSample {
  if (!mainDb || !searchDb) throw new Error('the server is not started');
  const newestSeq =
    (mainDb.prepare('select coalesce(max(seq), 0) from part_logs').pluck().get() as number) ?? 0;
  const indexedThroughSeq = searchDb
    .prepare('select indexed_through from search_state')
    .pluck()
    .get() as number;
  return { atMs: Date.now(), newestSeq, indexedThroughSeq };
}

async function start(payload: unknown): Promise<FlotillaReady> {
  dataDir = (payload as { dataDir: string }).dataDir;
  const started = await startBenchFlotilla(dataDir, () => {
    threadsBefore = new Set(threadCpuMs().keys());
  });
  server = started.server;
  // Read-only connections of our own: the server's are not reachable from outside.
  const mainFile = sqliteFileIn(dataDir);
  mainDb = new SQLite(mainFile, { readonly: true, fileMustExist: true });
  searchDb = new SQLite(searchFileFor(mainFile), { readonly: true, fileMustExist: true });
  lagNow();
  return started.ready;
}

/** Samples the index lag every `intervalMs` until `lagStop` (bounded in count). */
function lagStart(payload: unknown): { atMs: number } {
  const { intervalMs } = payload as { intervalMs: number };
  clearInterval(sampler);
  samples = [];
  const take = () => {
    if (samples.length < MAX_SAMPLES) samples.push(lagNow());
  };
  take();
  sampler = setInterval(take, intervalMs);
  return { atMs: Date.now() };
}

function lagStop(): LagSample[] {
  clearInterval(sampler);
  sampler = undefined;
  samples.push(lagNow());
  const out = samples;
  samples = [];
  return out;
}

/**
 * Waits (polling every 20 ms, at most `timeoutMs`) until the index has reached the newest entry
 * stored when the call came in. Returns when that happened (Date.now()) and the lag then.
 */
async function waitIndexed(payload: unknown): Promise<{ caughtUp: boolean; atMs: number; lag: LagSample }> {
  const { timeoutMs } = payload as { timeoutMs: number };
  const target = lagNow().newestSeq;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = lagNow();
    if (lag.indexedThroughSeq >= target) return { caughtUp: true, atMs: lag.atMs, lag };
    if (Date.now() > deadline) return { caughtUp: false, atMs: lag.atMs, lag };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function post<T>(session: Session, method: string): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, (error, result) => (error ? reject(error) : resolve(result as T))),
  );
}

async function profileStart(): Promise<void> {
  if (profiler) return;
  profiler = new Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  await post(profiler, 'Profiler.start');
}

/** Stops the main-thread profile and writes it to `file` (a .cpuprofile for Chrome DevTools). */
async function profileStop(payload: unknown): Promise<{ file: string } | undefined> {
  const session = profiler;
  if (!session) return undefined;
  profiler = undefined;
  const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
  session.disconnect();
  const { file } = payload as { file: string };
  writeFileSync(file, JSON.stringify(profile));
  return { file };
}

serveParent(
  'flotilla server',
  {
    start,
    stats,
    lagNow,
    lagStart,
    lagStop,
    waitIndexed,
    profileStart,
    profileStop,
    stop: async () => {
      clearInterval(sampler);
      await server?.close();
      mainDb?.close();
      searchDb?.close();
      return {};
    },
  },
  () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  },
);
