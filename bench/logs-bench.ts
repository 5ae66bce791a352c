/*
 * `npm run bench:logs`: machine logs on SQLite, measured in one run on this machine (issue 6).
 * See the "Logs benchmark" section of bench/README.md.
 *
 * 1. Ingestion through RobotService.Log, against two baselines measured in the same run with
 *    the same client: a connect-node server that stores nothing, and raw better-sqlite3 inserts.
 * 2. How soon a logged entry can be found with GetRobotPartLogs(filter), and how far the SQLite
 *    search index runs behind.
 * 3. GetRobotPartLogs latency on one part filled with a million entries.
 * 4. Delivery latency to 100 live TailRobotPartLogs streams.
 *
 * Children (forked with tsx, talking over IPC): the Flotilla server, the load generator, and in
 * turn the store-nothing server and the raw-insert process. Every loop is bounded in time and
 * count; every child has its own hard deadline and is killed by PID when this process exits.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { FlotillaReady } from './lib/flotilla-instance.js';
import { runMain, startRun, type Child } from './lib/ipc.js';
import { ABSENT_TERM, COMMON_TERM, POOL_SIZE, RARE_TERM } from './lib/logs-entries.js';
import type { LagSample, ServerStats } from './lib/logs-flotilla-server.js';
import type {
  FillResult,
  FillSpec,
  IngestResult,
  IngestSpec,
  LogsSetup,
  QueriesSpec,
  QueryKind,
  QueryResult,
  TailResult,
  TailsSpec,
} from './lib/logs-load.js';
import { summarizeProfile } from './lib/logs-profile.js';
import type { RawInsertResult } from './lib/logs-raw-insert.js';
import {
  renderLogsMarkdown,
  type FillSummary,
  type IndexLagSummary,
  type IngestRow,
  type LogsBenchReport,
  type ProbeSummary,
  type QueryRow,
  type RawRow,
  type ServerWindow,
  type TailRow,
  type TargetCheck,
} from './lib/logs-report.js';
import { int, ms, writeReport } from './lib/report.js';
import { repoRoot, reportDate, runEnvironment } from './lib/run-info.js';
import { machineBusyPct, OTHER_CPU_WARN_PCT, summarizeLatencies, type CpuSnapshot } from './lib/stats.js';

const USAGE = `usage: node --import tsx bench/logs-bench.ts [--quick] [--out NAME] [--profile DIR]
  --quick        smaller sizes (3 s ingestion rows, 100k entries instead of 1M, fewer samples);
                 writes reports/logs-quick.*
  --out NAME     report name under bench/reports/ (default logs-latest, or logs-quick with --quick)
  --profile DIR  also write a CPU profile of the server's main thread per phase into DIR and
                 summarize it in the report (the profiler costs the server a little)`;

interface Sizes {
  warmupMs: number;
  durationMs: number;
  fillEntries: number;
  fillMaxMs: number;
  querySamples: number;
  queryWarmup: number;
  tailPushes: number;
  /** Upper bound on the whole run, for the watchdog. */
  plannedMs: number;
}

const FULL: Sizes = {
  warmupMs: 3000,
  durationMs: 15_000,
  fillEntries: 1_000_000,
  fillMaxMs: 240_000,
  querySamples: 200,
  queryWarmup: 20,
  tailPushes: 200,
  plannedMs: 12 * 60_000,
};
const QUICK: Sizes = {
  warmupMs: 1000,
  durationMs: 3000,
  fillEntries: 100_000,
  fillMaxMs: 60_000,
  querySamples: 50,
  queryWarmup: 5,
  tailPushes: 60,
  plannedMs: 5 * 60_000,
};
const INGEST_PARTS = 16;
const BATCH = 100;
const PROBE = { intervalMs: 250, recheckAfterMs: 4000, findTimeoutMs: 10_000 };
const FILL_BATCH = 1000;
const FILL_IN_FLIGHT = 4;
/** While the fill runs, one filtered GetRobotPartLogs this often (the index is behind then). */
const FILL_QUERY_EVERY_MS = 500;
const TAILS = 100;
const TAIL_CONNECTIONS = 4;
const TAIL_PER_PUSH = 10;
const TAIL_INTERVAL_MS = 50;
const READ_MAX_BYTES = 4 * 1024 * 1024;

interface Options {
  quick: boolean;
  out: string;
  profileDir: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const out = values.out ?? (values.quick ? 'logs-quick' : 'logs-latest');
  if (!/^[\w.-]+$/.test(out)) {
    console.error(`--out must be a plain file name\n${USAGE}`);
    process.exit(2);
  }
  return { quick: values.quick, out, profileDir: values.profile ? path.resolve(values.profile) : undefined };
}

/** A short hash of every file under src/ (paths and contents): which code ran, commit or not. */
function srcFingerprint(): string {
  const root = path.join(repoRoot, 'src');
  const hash = createHash('sha256');
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(path.join(root, f)).isFile())
    .sort();
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(readFileSync(path.join(root, f)))
      .update('\0');
  return hash.digest('hex').slice(0, 12);
}

type AnyStats = CpuSnapshot & Partial<ServerStats>;

/** A server's CPU between two stats snapshots. */
function serverWindow(a: AnyStats | undefined, b: AnyStats | undefined): ServerWindow | undefined {
  if (!a || !b || b.wallMs <= a.wallMs) return undefined;
  const wall = b.wallMs - a.wallMs;
  const share = (x: number | undefined, y: number | undefined) =>
    x === undefined || y === undefined ? undefined : ((y - x) / wall) * 100;
  const w: ServerWindow = { cpuMs: b.cpuMs - a.cpuMs, cpuPct: ((b.cpuMs - a.cpuMs) / wall) * 100 };
  const main = share(a.mainThreadMs, b.mainThreadMs);
  if (main !== undefined && a.mainThreadMs !== undefined && b.mainThreadMs !== undefined) {
    w.mainThreadPct = main;
    w.mainThreadMs = b.mainThreadMs - a.mainThreadMs;
  }
  const worker = share(a.serverThreadsMs, b.serverThreadsMs);
  if (worker !== undefined) w.workerThreadsPct = worker;
  if (a.serverThreadsDetail && b.serverThreadsDetail) {
    const before = a.serverThreadsDetail;
    w.workerThreads = Object.entries(b.serverThreadsDetail)
      .sort(([x], [y]) => Number(x) - Number(y))
      .map(([tid, t]) => ({ tid, pct: ((t - (before[tid] ?? 0)) / wall) * 100 }));
  }
  const helpers = share(a.otherThreadsMs, b.otherThreadsMs);
  if (helpers !== undefined) w.helperThreadsPct = helpers;
  if (a.elu && b.elu) {
    const active = b.elu.active - a.elu.active;
    const idle = b.elu.idle - a.elu.idle;
    if (active + idle > 0) w.eventLoopPct = (active / (active + idle)) * 100;
  }
  if (a.mainSched && b.mainSched) {
    const wallNs = wall * 1e6;
    const onCpuPct = ((b.mainSched.onCpuNs - a.mainSched.onCpuNs) / wallNs) * 100;
    w.mainRunWaitPct = ((b.mainSched.runWaitNs - a.mainSched.runWaitNs) / wallNs) * 100;
    w.mainVoluntarySwitchesPerSec =
      ((b.mainSched.voluntarySwitches - a.mainSched.voluntarySwitches) / wall) * 1000;
    if (w.eventLoopPct !== undefined)
      w.mainBlockedPct = Math.max(0, w.eventLoopPct - onCpuPct - w.mainRunWaitPct);
  }
  return w;
}

const otherCpu = (machinePct: number | undefined, ...known: (number | undefined)[]): number | undefined =>
  machinePct === undefined || known.some((k) => k === undefined)
    ? undefined
    : Math.max(0, machinePct - known.reduce<number>((s, k) => s + (k ?? 0), 0));

function ingestRow(name: string, r: IngestResult, server: ServerWindow | undefined): IngestRow {
  const perEntry = (cpuMs: number | undefined) =>
    cpuMs === undefined || r.entries === 0 ? undefined : (cpuMs * 1000) / r.entries;
  return {
    name,
    entries: r.entries,
    calls: r.calls,
    failures: r.failures,
    warmupFailures: r.warmupFailures,
    ...(r.firstError === undefined ? {} : { firstError: r.firstError }),
    elapsedMs: r.elapsedMs,
    entriesPerSec: r.entriesPerSec,
    callLatency: r.callLatency,
    server,
    clientCpuPct: r.clientCpuPct,
    otherCpuPct: otherCpu(r.machinePct, server?.cpuPct, r.clientCpuPct),
    serverUsPerEntry: perEntry(server?.cpuMs),
    mainThreadUsPerEntry: perEntry(server?.mainThreadMs),
  };
}

/** The index backlog over [fromMs, toMs] (Date.now() times). */
function backlogOf(samples: LagSample[], fromMs: number, toMs: number) {
  const inWindow = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  const backlogs = inWindow.map((s) => Math.max(0, s.newestSeq - s.indexedThroughSeq));
  const first = inWindow[0];
  const last = inWindow.at(-1);
  const indexedPerSec =
    first && last && last.atMs > first.atMs
      ? ((last.indexedThroughSeq - first.indexedThroughSeq) / (last.atMs - first.atMs)) * 1000
      : 0;
  return {
    samples: inWindow.length,
    max: backlogs.length ? Math.max(...backlogs) : 0,
    mean: backlogs.length ? backlogs.reduce((a, b) => a + b, 0) / backlogs.length : 0,
    indexedPerSec,
  };
}

const verdictAtLeast = (value: number, target: number, unit: (n: number) => string): [boolean, string] =>
  value >= target
    ? [true, 'met']
    : [false, `missed by ${unit(target - value)} (${Math.round((1 - value / target) * 100)}% short)`];
const verdictBelow = (value: number, target: number, unit: (n: number) => string): [boolean, string] =>
  value < target
    ? [true, 'met']
    : [false, `missed by ${unit(value - target)} (${(value / target).toFixed(1)}× the target)`];

async function main(): Promise<number> {
  const options = parseOptions();
  const sizes = options.quick ? QUICK : FULL;
  const started = performance.now();
  const loadavgAtStart = os.loadavg();
  const fingerprintAtStart = srcFingerprint();
  const busyBeforeStartPct = await machineBusyPct(500);

  const { spawn, tempDir } = startRun({
    name: 'bench:logs',
    watchdogMs: sizes.plannedMs,
    childDeadlineMs: sizes.plannedMs + 60_000,
  });
  const dataDir = tempDir('flotilla-logs-bench-');
  const rawDir = tempDir('flotilla-logs-raw-');
  const failures: string[] = [];
  const warnings: string[] = [];
  const log = (line: string) => console.log(`bench:logs: ${line}`);
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  const profiles: LogsBenchReport['profiles'] = [];

  log(`${options.quick ? 'quick' : 'full'} run, at most ${Math.round(sizes.plannedMs / 60_000)} min`);
  const flotilla = spawn('flotilla server', 'logs-flotilla-server.ts');
  const load = spawn('logs load generator', 'logs-load.ts');
  const f = await flotilla.call<FlotillaReady>('start', { dataDir }, 60_000);
  const setup = await load.call<LogsSetup>(
    'setup',
    {
      url: f.url,
      organizationId: f.organizationId,
      apiKeyId: f.apiKeyId,
      apiKey: f.apiKey,
      ingestParts: INGEST_PARTS,
    },
    60_000,
  );
  log(`Flotilla at ${f.url}; ${setup.ingest.length} ingesting parts, one to fill, one to tail`);

  // Server CPU at the load generator's measure-start / measure-end notices, keyed by phase.
  let currentServer: Child | undefined;
  const marks = new Map<string, Promise<AnyStats | undefined>>();
  let ingestDone: Promise<{ caughtUp: boolean; atMs: number; lag: LagSample }> | undefined;
  let ingestDoneAt = 0;
  load.onNotice((notice, data) => {
    if (notice === 'ingest-done') {
      // The moment ingestion ends: how long the index takes to cover everything stored by now.
      const { id, atMs } = data as { id: string; atMs: number };
      if (id === 'flotilla') {
        ingestDoneAt = atMs;
        ingestDone = flotilla.call('waitIndexed', { timeoutMs: options.quick ? 30_000 : 90_000 }, 200_000);
      }
      return;
    }
    const server = currentServer;
    if (!server) return;
    marks.set(
      `${String(data)}:${notice}`,
      server.call<AnyStats>('stats', undefined, 10_000).catch(() => undefined),
    );
  });
  const windowOf = async (key: string) =>
    serverWindow(await marks.get(`${key}:measure-start`), await marks.get(`${key}:measure-end`));
  const profiled = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    if (!options.profileDir) return run();
    await flotilla.call('profileStart', undefined, 10_000);
    try {
      return await run();
    } finally {
      const file = path.join(options.profileDir, `flotilla-${phase}.cpuprofile`);
      await flotilla.call('profileStop', { file }, 60_000).catch(() => undefined);
      const summary = summarizeProfile(file);
      profiles.push({ phase, file, top: [...summary.areas.slice(0, 8), ...summary.functions.slice(0, 6)] });
    }
  };
  const ingestSpec = (id: string, url: string, probe: boolean): IngestSpec => ({
    id,
    url,
    warmupMs: sizes.warmupMs,
    durationMs: sizes.durationMs,
    batch: BATCH,
    ...(probe ? { probe: PROBE } : {}),
  });
  const rowTimeout = sizes.warmupMs + sizes.durationMs + 60_000;

  // ---- 1a. store nothing ----
  const baseline = spawn('store-nothing server', 'logs-baseline-server.ts');
  const b = await baseline.call<{ url: string }>(
    'start',
    { tokens: Object.fromEntries(setup.ingest.map((p) => [p.id, p.token])), readMaxBytes: READ_MAX_BYTES },
    60_000,
  );
  currentServer = baseline;
  const storeNothingResult = await load.call<IngestResult>(
    'ingest',
    ingestSpec('store-nothing', b.url, false),
    rowTimeout,
  );
  const storeNothing = ingestRow(
    'store nothing (connect-node)',
    storeNothingResult,
    await windowOf('store-nothing'),
  );
  const baselineCounters = await baseline
    .call<{ rejected: number }>('stats', undefined, 10_000)
    .catch(() => undefined);
  if (baselineCounters && baselineCounters.rejected > 0)
    failures.push(`the store-nothing server refused ${baselineCounters.rejected} calls for a bad token`);
  await baseline.stop(5000);
  currentServer = undefined;
  log(
    `store nothing: ${int(storeNothing.entriesPerSec)} entries/s, server CPU ${Math.round(storeNothing.server?.cpuPct ?? 0)}%`,
  );

  // ---- 1b. raw inserts ----
  const rawChild = spawn('raw-insert baseline', 'logs-raw-insert.ts');
  const rawResult = await rawChild.call<RawInsertResult>(
    'run',
    {
      dir: rawDir,
      warmupMs: sizes.warmupMs,
      durationMs: sizes.durationMs,
      parts: INGEST_PARTS,
      batch: BATCH,
    },
    rowTimeout,
  );
  await rawChild.stop(5000);
  const raw: RawRow = {
    entries: rawResult.entries,
    transactions: rawResult.transactions,
    elapsedMs: rawResult.elapsedMs,
    entriesPerSec: rawResult.entriesPerSec,
    cpuPct: rawResult.cpuPct,
    otherCpuPct: otherCpu(rawResult.machinePct, rawResult.cpuPct),
    usPerEntry:
      ((rawResult.cpuPct / 100) * (rawResult.elapsedMs / 1000) * 1e6) / Math.max(1, rawResult.entries),
    txP50Ms: rawResult.txP50Ms,
    txP99Ms: rawResult.txP99Ms,
  };
  log(`raw inserts: ${int(raw.entriesPerSec)} entries/s, CPU ${Math.round(raw.cpuPct)}%`);

  // ---- 1c + 2. Flotilla ingestion, index lag, findability ----
  currentServer = flotilla;
  await flotilla.call('lagStart', { intervalMs: 100 }, 10_000);
  const flotillaResult = await profiled('ingestion', () =>
    load.call<IngestResult>(
      'ingest',
      ingestSpec('flotilla', f.url, true),
      rowTimeout + PROBE.recheckAfterMs + 20_000,
    ),
  );
  const caught = ingestDone ? await ingestDone : undefined;
  const lagSamples = await flotilla.call<LagSample[]>('lagStop', undefined, 30_000);
  const flotillaRow = ingestRow('Flotilla', flotillaResult, await windowOf('flotilla'));
  const measureStartMs = ingestDoneAt - flotillaResult.elapsedMs;
  const lag = backlogOf(lagSamples, measureStartMs, ingestDoneAt);
  const index: IndexLagSummary = {
    samples: lag.samples,
    maxBacklogEntries: lag.max,
    meanBacklogEntries: lag.mean,
    maxBacklogSeconds: flotillaRow.entriesPerSec > 0 ? lag.max / flotillaRow.entriesPerSec : 0,
    indexedPerSec: lag.indexedPerSec,
    catchUpSeconds: caught ? Math.max(0, caught.atMs - ingestDoneAt) / 1000 : undefined,
    caughtUp: caught?.caughtUp ?? false,
  };
  const p = flotillaResult.probe;
  const probe: ProbeSummary | undefined = p && {
    sent: p.sent,
    found: p.found,
    notFound: p.notFound,
    failures: p.logFailures + p.queryFailures,
    findable: summarizeLatencies(p.findableMs),
    logCall: summarizeLatencies(p.logMs),
    pollsMax: p.pollsMax,
    rechecked: p.rechecked,
    recheckFound: p.recheckFound,
    recheckQuery: summarizeLatencies(p.recheckQueryMs),
  };
  if (p?.firstError) failures.push(`findability probe: ${p.firstError}`);
  log(
    `Flotilla: ${int(flotillaRow.entriesPerSec)} entries/s, server CPU ${Math.round(flotillaRow.server?.cpuPct ?? 0)}% ` +
      `(main ${Math.round(flotillaRow.server?.mainThreadPct ?? 0)}%, worker threads ${Math.round(flotillaRow.server?.workerThreadsPct ?? 0)}%); ` +
      `index backlog max ${int(index.maxBacklogEntries)}, caught up ${index.catchUpSeconds?.toFixed(2) ?? '?'} s after`,
  );

  // ---- 3. fill one part, then GetRobotPartLogs latency ----
  await flotilla.call('lagStart', { intervalMs: 250 }, 10_000);
  const fillResult = await profiled('fill', () =>
    load.call<FillResult>(
      'fill',
      {
        id: 'fill',
        url: f.url,
        total: sizes.fillEntries,
        batch: FILL_BATCH,
        inFlight: FILL_IN_FLIGHT,
        maxMs: sizes.fillMaxMs,
        queryEveryMs: FILL_QUERY_EVERY_MS,
      } satisfies FillSpec,
      sizes.fillMaxMs + 60_000,
    ),
  );
  const fillCaught = await flotilla.call<{ caughtUp: boolean; atMs: number }>(
    'waitIndexed',
    { timeoutMs: options.quick ? 60_000 : 150_000 },
    200_000,
  );
  const fillSamples = await flotilla.call<LagSample[]>('lagStop', undefined, 30_000);
  const fillServer = await windowOf('fill');
  const fill: FillSummary = {
    partEntries: fillResult.entries,
    complete: fillResult.complete,
    failures: fillResult.failures,
    ...(fillResult.firstError === undefined ? {} : { firstError: fillResult.firstError }),
    seconds: fillResult.elapsedMs / 1000,
    entriesPerSec: fillResult.entriesPerSec,
    server: fillServer,
    clientCpuPct: fillResult.clientCpuPct,
    otherCpuPct: otherCpu(fillResult.machinePct, fillServer?.cpuPct, fillResult.clientCpuPct),
    maxBacklogEntries: backlogOf(fillSamples, 0, Number.MAX_SAFE_INTEGER).max,
    catchUpSeconds: Math.max(0, fillCaught.atMs - fillResult.endEpochMs) / 1000,
    caughtUp: fillCaught.caughtUp,
    queriesDuring: fillResult.queriesDuring,
    queryEveryMs: FILL_QUERY_EVERY_MS,
  };
  log(
    `fill: ${int(fill.partEntries)} entries in ${fill.seconds.toFixed(1)} s (${int(fill.entriesPerSec)}/s), ` +
      `index caught up ${fill.catchUpSeconds?.toFixed(1)} s later`,
  );

  // Expected matches: the pool went out in order a whole number of times (see logs-entries.ts).
  const rounds =
    fill.complete && sizes.fillEntries % POOL_SIZE === 0 ? sizes.fillEntries / POOL_SIZE : undefined;
  const page = (n: number) => Math.min(100, n);
  const kinds: QueryKind[] = [
    { name: 'no filter', expect: page(fill.partEntries) },
    {
      name: 'rare term',
      filter: RARE_TERM,
      expect: page(rounds === undefined ? -1 : rounds * (POOL_SIZE / 10_000)),
    },
    { name: 'common term (10%)', filter: COMMON_TERM, expect: page(Math.floor(fill.partEntries / 10)) },
    { name: 'matches nothing', filter: ABSENT_TERM, expect: 0 },
  ];
  const queryResults = await profiled('queries', () =>
    load.call<QueryResult[]>(
      'queries',
      {
        id: 'query',
        url: f.url,
        kinds,
        samples: sizes.querySamples,
        warmup: sizes.queryWarmup,
        maxMsPerKind: 45_000,
      } satisfies QueriesSpec,
      4 * 45_000 + 30_000,
    ),
  );
  const queries: QueryRow[] = [];
  for (const q of queryResults) {
    const server = await windowOf(`query:${q.name}`);
    queries.push({
      ...q,
      server,
      serverMsPerCall: server && q.calls > 0 ? server.cpuMs / q.calls : undefined,
      otherCpuPct: otherCpu(q.machinePct, server?.cpuPct, q.clientCpuPct),
    });
    log(`GetRobotPartLogs ${q.name}: p50 ${ms(q.latency.p50)} ms, p99 ${ms(q.latency.p99)} ms`);
  }

  // ---- 4. live tails ----
  const tailResult = await profiled('tails', () =>
    load.call<TailResult>(
      'tails',
      {
        id: 'tails',
        url: f.url,
        count: TAILS,
        connections: TAIL_CONNECTIONS,
        pushes: sizes.tailPushes,
        perPush: TAIL_PER_PUSH,
        intervalMs: TAIL_INTERVAL_MS,
        openTimeoutMs: 20_000,
        drainMs: 10_000,
      } satisfies TailsSpec,
      20_000 + sizes.tailPushes * TAIL_INTERVAL_MS + 60_000,
    ),
  );
  const tailServer = await windowOf('tails');
  const tails: TailRow = {
    ...tailResult,
    server: tailServer,
    otherCpuPct: otherCpu(tailResult.machinePct, tailServer?.cpuPct, tailResult.clientCpuPct),
  };
  log(
    `tails: p50 ${ms(tails.latency.p50)} ms, p99 ${ms(tails.latency.p99)} ms, ${tails.tailsComplete}/${tails.tails} complete`,
  );
  currentServer = undefined;
  const finalStats = await flotilla.call<ServerStats>('stats', undefined, 10_000).catch(() => undefined);
  if (finalStats) {
    log(
      `server CPU by thread: main ${int(finalStats.mainThreadMs)} ms; started with the server ` +
        `${Object.entries(finalStats.serverThreadsDetail)
          .map(([tid, t]) => `${tid}: ${int(t)} ms`)
          .join(', ')}; helpers ${int(finalStats.otherThreadsMs)} ms`,
    );
  }

  await Promise.all([load.stop(5000), flotilla.stop(30_000)]);

  // ---- checks, targets, explanations ----
  for (const row of [storeNothing, flotillaRow]) {
    const n = row.failures + row.warmupFailures;
    if (n > 0) failures.push(`${row.name}: ${n} failed Log calls; first: ${row.firstError ?? '?'}`);
    if (row.entries === 0) failures.push(`${row.name}: no entries stored`);
  }
  if (probe && probe.notFound > 0)
    failures.push(`findability probe: ${probe.notFound} entries not found in time`);
  if (!fill.complete)
    failures.push(
      `fill: ${int(fill.partEntries)} of ${int(sizes.fillEntries)} entries stored; ${fill.firstError ?? 'ran out of time'}`,
    );
  for (const q of queries) {
    if (q.failures + q.wrongReplies > 0)
      failures.push(
        `GetRobotPartLogs ${q.name}: ${q.failures} failed, ${q.wrongReplies} wrong replies; ${q.firstError ?? ''}`,
      );
  }
  if (tails.firstError) failures.push(`tails: ${tails.firstError}`);
  if (!tails.openedAll) failures.push('tails: not every tail got its first message');
  if (tails.tailsComplete < tails.tails || tails.duplicates > 0)
    failures.push(
      `tails: ${tails.tailsComplete}/${tails.tails} tails received every entry; ${tails.duplicates} duplicates`,
    );
  if (busyBeforeStartPct !== undefined && busyBeforeStartPct > OTHER_CPU_WARN_PCT)
    warnings.push(
      `the machine was already ${Math.round(busyBeforeStartPct)}% of a core busy before the run started`,
    );
  if (srcFingerprint() !== fingerprintAtStart)
    warnings.push(
      'files under src/ changed while the benchmark ran: the server loaded its code when it started',
    );
  const busyWindows: [string, number | undefined][] = [
    ['store-nothing row', storeNothing.otherCpuPct],
    ['raw-insert row', raw.otherCpuPct],
    ['Flotilla ingestion row', flotillaRow.otherCpuPct],
    ['fill', fill.otherCpuPct],
    ...queries.map((q): [string, number | undefined] => [`GetRobotPartLogs ${q.name}`, q.otherCpuPct]),
    ['tails', tails.otherCpuPct],
  ];
  for (const [name, other] of busyWindows) {
    if ((other ?? 0) > OTHER_CPU_WARN_PCT)
      warnings.push(
        `other processes used ${Math.round(other ?? 0)}% of a core during the ${name}: its numbers are not reliable`,
      );
  }

  const ratioToStoreNothing =
    storeNothing.entriesPerSec > 0 ? flotillaRow.entriesPerSec / storeNothing.entriesPerSec : undefined;
  const ratioToRaw = raw.entriesPerSec > 0 ? flotillaRow.entriesPerSec / raw.entriesPerSec : undefined;
  const targets: TargetCheck[] = [];
  const target = (what: string, value: string, goal: string, [met, verdict]: [boolean, string]) =>
    targets.push({ what, value, target: goal, met, verdict });
  const entriesUnit = (n: number) => `${int(n)} entries/s`;
  target(
    'Ingestion, Flotilla (entries/s)',
    int(flotillaRow.entriesPerSec),
    '≥ 50,000',
    verdictAtLeast(flotillaRow.entriesPerSec, 50_000, entriesUnit),
  );
  target(
    'Flotilla ÷ store nothing',
    `${ratioToStoreNothing?.toFixed(2) ?? '–'} (store nothing: ${int(storeNothing.entriesPerSec)} entries/s)`,
    '≥ 0.5',
    verdictAtLeast(ratioToStoreNothing ?? 0, 0.5, (n) => n.toFixed(2)),
  );
  targets.push({
    what: 'Flotilla ÷ raw inserts',
    value: `${ratioToRaw?.toFixed(2) ?? '–'} (raw inserts: ${int(raw.entriesPerSec)} entries/s)`,
    target: '(none)',
    met: true,
    verdict: 'met',
  });
  if (probe) {
    const allFound = probe.notFound === 0 && probe.found === probe.sent;
    const worst = probe.findable.max / 1000;
    target(
      'Logged entry findable by filter during ingestion: p50 / max',
      `${(probe.findable.p50 / 1000).toFixed(3)} s / ${worst.toFixed(3)} s (${probe.found}/${probe.sent} found)`,
      'every entry ≤ 5 s',
      allFound && worst <= 5
        ? [true, 'met']
        : [
            false,
            allFound
              ? `missed by ${(worst - 5).toFixed(2)} s`
              : `missed: ${probe.sent - probe.found} not found`,
          ],
    );
  }
  targets.push({
    what: 'Search index backlog during ingestion: max',
    value: `${int(index.maxBacklogEntries)} entries = ${index.maxBacklogSeconds.toFixed(2)} s of ingestion; caught up ${index.catchUpSeconds?.toFixed(2) ?? '–'} s after ingestion stopped`,
    target: '(none)',
    met: true,
    verdict: 'met',
  });
  targets.push({
    what: `Fill of one part through Log`,
    value: `${int(fill.partEntries)} entries in ${fill.seconds.toFixed(1)} s (${int(fill.entriesPerSec)}/s); index caught up ${fill.catchUpSeconds?.toFixed(1) ?? '–'} s later`,
    target: '(none)',
    met: true,
    verdict: 'met',
  });
  for (const q of queries) {
    const value = `p50 ${ms(q.latency.p50)} ms, p99 ${ms(q.latency.p99)} ms`;
    if (q.filter === undefined) {
      targets.push({
        what: `GetRobotPartLogs at ${int(fill.partEntries)}, ${q.name}`,
        value,
        target: '(none)',
        met: true,
        verdict: 'met',
      });
    } else {
      target(
        `GetRobotPartLogs at ${int(fill.partEntries)}, ${q.name}`,
        value,
        'p50 < 20 ms',
        verdictBelow(q.latency.p50, 20, (n) => `${ms(n)} ms`),
      );
    }
  }
  target(
    `Tail delivery, ${tails.tails} tails: p50 / p99`,
    `${ms(tails.latency.p50)} ms / ${ms(tails.latency.p99)} ms`,
    'p99 < 50 ms',
    verdictBelow(tails.latency.p99, 50, (n) => `${ms(n)} ms`),
  );
  target(
    'Tail entries received',
    `${tails.tailsComplete}/${tails.tails} tails got all ${tails.entriesPushed} (min ${tails.receivedMin})`,
    'all',
    tails.tailsComplete === tails.tails && tails.entriesPushed > 0
      ? [true, 'met']
      : [false, `missed: ${tails.tails - tails.tailsComplete} tails incomplete`],
  );

  const explanations = explain(
    targets,
    {
      storeNothing,
      flotillaRow,
      raw,
      index,
      queries,
      tails,
      fill,
      tailPerPush: TAIL_PER_PUSH,
      tailIntervalMs: TAIL_INTERVAL_MS,
    },
    profiles,
  );

  const report: LogsBenchReport = {
    date: reportDate(),
    environment: runEnvironment(
      { loadavgAtStart, busyBeforeStartPct },
      { srcFingerprint: fingerprintAtStart },
    ),
    settings: {
      quick: options.quick,
      database: 'sqlite',
      ingestParts: INGEST_PARTS,
      batch: BATCH,
      warmupSeconds: sizes.warmupMs / 1000,
      durationSeconds: sizes.durationMs / 1000,
      probeIntervalMs: PROBE.intervalMs,
      recheckAfterMs: PROBE.recheckAfterMs,
      fillEntries: sizes.fillEntries,
      fillBatch: FILL_BATCH,
      fillInFlight: FILL_IN_FLIGHT,
      querySamples: sizes.querySamples,
      queryWarmup: sizes.queryWarmup,
      tails: TAILS,
      tailConnections: TAIL_CONNECTIONS,
      tailPushes: sizes.tailPushes,
      tailEntriesPerPush: TAIL_PER_PUSH,
      tailIntervalMs: TAIL_INTERVAL_MS,
      profiled: options.profileDir !== undefined,
    },
    ingestion: { storeNothing, raw, flotilla: flotillaRow, ratioToStoreNothing, ratioToRaw, index, probe },
    fill,
    queries,
    tails,
    targets,
    explanations,
    profiles,
    ok: failures.length === 0,
    failures,
    warnings,
    wallSeconds: (performance.now() - started) / 1000,
  };
  const md = await writeReport(options.out, report, renderLogsMarkdown(report));
  console.log(`\n${md}`);
  log(`wrote bench/reports/${options.out}.md and .json`);
  for (const w of warnings) console.error(`bench:logs: warning: ${w}`);
  if (!report.ok) console.error(`bench:logs: FAILED\n${failures.join('\n')}`);
  return report.ok ? 0 : 1;
}

/** The main thread over a window: where its wall time went. */
function mainThreadAccount(w: ServerWindow | undefined): string {
  if (!w || w.eventLoopPct === undefined) return 'main thread: no data';
  const p = (n: number | undefined) => (n === undefined ? '?' : `${Math.round(n)}%`);
  return (
    `the main thread's event loop was busy ${p(w.eventLoopPct)} of the time: on a CPU ${p(w.mainThreadPct)}, runnable but ` +
    `waiting for a core ${p(w.mainRunWaitPct)}, blocked inside synchronous system calls ${p(w.mainBlockedPct)} ` +
    `(${w.mainVoluntarySwitchesPerSec === undefined ? '?' : int(w.mainVoluntarySwitchesPerSec)} voluntary context switches/s)`
  );
}

/** One short, measured account per missed target of where the time went. */
function explain(
  targets: TargetCheck[],
  m: {
    storeNothing: IngestRow;
    flotillaRow: IngestRow;
    raw: RawRow;
    index: IndexLagSummary;
    queries: QueryRow[];
    tails: TailRow;
    fill: FillSummary;
    tailPerPush: number;
    tailIntervalMs: number;
  },
  profiles: LogsBenchReport['profiles'],
): string[] {
  const out: string[] = [];
  const missed = (prefix: string) => targets.some((t) => !t.met && t.what.startsWith(prefix));
  const p = (n: number | undefined) => (n === undefined ? '?' : `${Math.round(n)}%`);
  const us = (n: number | undefined) => (n === undefined ? '?' : `${n.toFixed(1)} µs`);
  const cores = os.cpus().length;
  const profileNote = (phase: string) => {
    const found = profiles.find((x) => x.phase === phase);
    return found
      ? ` Main-thread profile (self time): ${found.top
          .slice(0, 6)
          .map((t) => `${t.what} ${Math.round(t.pct)}%`)
          .join(', ')}.`
      : '';
  };
  const fr = m.flotillaRow;
  const s = fr.server;
  const sn = m.storeNothing;
  if (missed('Ingestion') || missed('Flotilla ÷ store nothing')) {
    const machine = (s?.cpuPct ?? 0) + fr.clientCpuPct + (fr.otherCpuPct ?? 0);
    const seconds = fr.elapsedMs / 1000;
    // CPU per stored entry, µs, from a % of one core over the window.
    const perEntry = (pctOfCore: number | undefined) =>
      pctOfCore === undefined || fr.entries === 0
        ? undefined
        : ((pctOfCore / 100) * seconds * 1e6) / fr.entries;
    const clientUs = perEntry(fr.clientCpuPct);
    const totalUs = (fr.serverUsPerEntry ?? 0) + (clientUs ?? 0);
    const ceiling = totalUs > 0 ? (cores * 1e6) / totalUs : undefined;
    const saturated = machine >= cores * 100 * 0.85;
    const limit =
      (s?.eventLoopPct ?? 0) >= 90 && (s?.mainRunWaitPct ?? 0) >= 15 && saturated
        ? `The event loop is saturated, but it was on a CPU only ${p(s?.mainThreadPct)} of the time and waited for a ` +
          `core ${p(s?.mainRunWaitPct)}: the ${cores} cores are the limit, shared by the main thread, the worker ` +
          'threads, GC and the load generator.'
        : (s?.eventLoopPct ?? 0) >= 90
          ? 'The event loop is saturated, so it sets the rate.'
          : saturated
            ? 'The machine’s cores are saturated (all server threads plus the load generator), so the rate is CPU-bound across processes.'
            : 'Neither the event loop nor the machine is saturated: the rate is bounded by waiting, not CPU.';
    out.push(
      `Ingestion: Flotilla stored ${int(fr.entriesPerSec)} entries/s; ${mainThreadAccount(s)}. The server process used ` +
        `${p(s?.cpuPct)} of a core in all; the load generator ${p(fr.clientCpuPct)}, everything else ${p(fr.otherCpuPct)}: ` +
        `${p(machine)} of the machine's ${cores * 100}%. ${limit} CPU per stored entry: main thread ` +
        `${us(fr.mainThreadUsPerEntry)}, worker threads ${s?.workerThreads?.map((t) => us(perEntry(t.pct))).join(' + ') ?? us(perEntry(s?.workerThreadsPct))} ` +
        `(in creation order; the SQLite log store starts its writer, then its search indexer), V8/libuv helpers such as GC ` +
        `${us(perEntry(s?.helperThreadsPct))}: ${us(fr.serverUsPerEntry)} in the server, plus ${us(clientUs)} in the load ` +
        `generator. For comparison, connect-node alone costs ${us(sn.serverUsPerEntry)} per entry (the store-nothing ` +
        `server, at ${p(sn.server?.cpuPct)} of a core for ${int(sn.entriesPerSec)} entries/s) and the SQLite inserts alone ` +
        `${us(m.raw.usPerEntry)} (raw inserts, ${int(m.raw.entriesPerSec)} entries/s).` +
        (ceiling === undefined
          ? ''
          : ` At ${us(totalUs)} of CPU per entry (server and load generator), ${cores} cores carry at most about ` +
            `${int(ceiling)} entries/s; 50,000 entries/s needs that total at or below ${us((cores * 1e6) / 50_000)}.`) +
        profileNote('ingestion'),
    );
  }
  if (missed('Logged entry findable')) {
    out.push(
      `Findability: search index backlog max ${int(m.index.maxBacklogEntries)} entries (${m.index.maxBacklogSeconds.toFixed(2)} s), ` +
        `index intake ${int(m.index.indexedPerSec)} entries/s against ${int(fr.entriesPerSec)} stored/s.`,
    );
  }
  for (const q of m.queries) {
    const t = targets.find((x) => x.what.endsWith(q.name));
    if (!t || t.met) continue;
    out.push(
      `GetRobotPartLogs ${q.name}: the server spent ${q.serverMsPerCall === undefined ? '?' : `${ms(q.serverMsPerCall)} ms`} ` +
        `of CPU per call against a p50 of ${ms(q.latency.p50)} ms; ${mainThreadAccount(q.server)}; the load generator ` +
        `${p(q.clientCpuPct)}. With one call in flight the latency is the server's work on the call (SQLite runs ` +
        `synchronously on the main thread), not queueing.${profileNote('queries')}`,
    );
  }
  if (missed('Tail delivery')) {
    const t = m.tails;
    const messages = Math.max(1, (t.pushes - t.pushFailures) * t.tails);
    const perMessageUs = t.server ? (t.server.cpuMs * 1000) / messages : undefined;
    const mainPerMessageUs =
      t.server?.mainThreadMs === undefined ? undefined : (t.server.mainThreadMs * 1000) / messages;
    const needed =
      mainPerMessageUs === undefined
        ? undefined
        : (mainPerMessageUs / 1e6) * (t.tails * (1000 / m.tailIntervalMs)) * 100;
    out.push(
      `Tails: each stored batch becomes one message on each of the ${t.tails} streams: ${int(messages)} messages of ` +
        `${m.tailPerPush} entries in the window. The server spent ${us(perMessageUs)} of CPU per stream message ` +
        `(main thread ${us(mainPerMessageUs)}), so ${t.tails} tails × ${Math.round(1000 / m.tailIntervalMs)} batches/s ` +
        `need about ${p(needed)} of the main thread; ${mainThreadAccount(t.server)}. Server CPU ${p(t.server?.cpuPct)}, ` +
        `load generator ${p(t.clientCpuPct)}, other ${p(t.otherCpuPct)}. The Log pushes queue behind the fan-out on the ` +
        `same event loop: a push took p50 ${ms(t.pushLatency.p50)} ms / p99 ${ms(t.pushLatency.p99)} ms.${profileNote('tails')}`,
    );
  }
  return out;
}

runMain('bench:logs', main);
