/*
 * `npm run bench`: Flotilla at machine scale (issue 15). Two fleets are seeded (1k and 1M
 * machines, each a clone of a template made through the public API), the real server runs on
 * each, and the same loads go to both and to two baselines started here: a bare connect-node
 * server with Flotilla's reply bytes, and bare node:http2 writing the same gRPC frames. Then an
 * open-loop simulation of many machines finds how many one server sustains. Each number is put
 * next to its target; for each missed target the server's main thread is profiled.
 *
 * Children (forked with tsx, talking over IPC): the two Flotilla servers, the baselines and the
 * load generator. With taskset, the servers share core 0 and the load generator has core 1.
 * Every loop is bounded in time and count; every child has a hard deadline and is killed by PID
 * when this process exits; the data directories are temporary and removed at exit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { PreparedFleet, FleetServerStats } from './lib/fleet-server.js';
import { runMain, startRun, type Child } from './lib/ipc.js';
import type { BaselinesReady } from './lib/machine-baselines.js';
import {
  evaluateTargets,
  renderMachinesMarkdown,
  rowLabel,
  type CapacitySummary,
  type FleetSummary,
  type MachinesReport,
  type MarkerResult,
  type ProfileRecord,
  SETTLED_CPU_PCT,
  SETTLE_MAX_S,
} from './lib/machines-report.js';
import {
  BOOT_IN_FLIGHT,
  CALLS,
  MACHINE_CALLS,
  isFlotilla,
  type BootResult,
  emptyRowLoad,
  type Call,
  type CapacityLoad,
  type CapacitySpec,
  type CapacityStep,
  type FleetKey,
  type FleetSetup,
  type LoadSetupResult,
  type MachineRates,
  type RowLoad,
  type RowResult,
  type RowRun,
  type RowSpec,
  type ServerWindow,
  type TargetKey,
} from './lib/machines-types.js';
import { summarizeProfile } from './lib/logs-profile.js';
import { int, ms, writeReport } from './lib/report.js';
import { reportDate, runEnvironment } from './lib/run-info.js';
import {
  machineBusyPct,
  machinePercent,
  machineSnapshot,
  OTHER_CPU_WARN_PCT,
  type MachineSnapshot,
} from './lib/stats.js';

const USAGE = `usage: node --import tsx bench/machines-bench.ts [options]
  --quick               smaller windows (0.5 s + 1.5 s rows, 3 capacity steps of 1 + 3 s);
                        writes reports/quick.*
  --out NAME            report name under bench/reports/ (default latest, or quick)
  --small N             machines in the small fleet (default 1000)
  --large N             machines in the large fleet (default 1000000)
  --warmup S            warm-up seconds per row (default 1.5; quick 0.5)
  --duration S          measured seconds per row (default 4; quick 1.5)
  --in-flight N         calls in flight in the loaded rows (default 64)
  --connections N       HTTP/2 connections for the machine calls in the rows (default 8)
  --row-sample N        machines the rows draw from, per fleet, at most the small fleet
                        (default 2000, so the whole 1k fleet and 1,000 of the 1M one)
  --steps LIST          capacity steps, machines (default 1000,1500,2000,2500,3500,5000,7500,10000,15000,20000;
                        quick 2500,5000,10000)
  --step-seconds S      measured seconds per capacity step, after 2 s warm-up (default 10; quick 3)
  --config-every S      a simulated machine's Config period (default 10)
  --restart-every S     its NeedsRestart period (default 5)
  --log-every S         its Log period (default 5)
  --log-entries N       entries per Log call in the capacity steps (default 10)
  --per-connection N    simulated machines per HTTP/2 connection (default 100)
  --calls LIST          the calls measured in rows (default all: config,needsRestart,
                        getRobotPartWeb,getRobotPartJson,listRobots,log; none for no rows)
  --no-capacity         skip the capacity steps
  --no-profile          do not profile the rows of missed targets
  --profile-dir DIR     keep the .cpuprofile files in DIR (default: a temporary directory)
  --no-pin              do not pin processes to cores with taskset`;

interface Options {
  quick: boolean;
  out: string;
  small: number;
  large: number;
  warmupS: number;
  durationS: number;
  inFlight: number;
  connections: number;
  rowSample: number;
  steps: number[];
  stepWarmupS: number;
  stepS: number;
  rates: MachineRates;
  perConnection: number;
  calls: Call[];
  capacity: boolean;
  profile: boolean;
  profileDir: string | undefined;
  profileS: number;
  pin: boolean;
}

const LOG_BATCH = 100;
const PER_LOCATION = 50;
const LOCATION_SAMPLE = 20;
const CALL_TIMEOUT_MS = 10_000;
const P99_LIMIT_MS = 100;
const MAX_IN_FLIGHT = 20_000;
/** How long each server's CPU is sampled with no calls, after seeding. */
const RESTING_SAMPLE_MS = 2000;
/** Log calls of 100 entries sent on the marker's part right after it. */
const MARKER_BURY = 30;
const SERVER_CORE = 0;
const LOAD_CORE = 1;

const ALL_CALLS: readonly Call[] = [
  'config',
  'needsRestart',
  'getRobotPartWeb',
  'getRobotPartJson',
  'listRobots',
  'log',
];

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      small: { type: 'string' },
      large: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      'in-flight': { type: 'string' },
      connections: { type: 'string' },
      'row-sample': { type: 'string' },
      steps: { type: 'string' },
      'step-seconds': { type: 'string' },
      'config-every': { type: 'string' },
      'restart-every': { type: 'string' },
      'log-every': { type: 'string' },
      'log-entries': { type: 'string' },
      'per-connection': { type: 'string' },
      calls: { type: 'string' },
      'no-capacity': { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'profile-dir': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const fail = (message: string): never => {
    console.error(`${message}\n${USAGE}`);
    process.exit(2);
  };
  const num = (v: string | undefined, fallback: number, name: string, min: number, max: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}`);
    return n;
  };
  const quick = values.quick;
  const out = values.out ?? (quick ? 'quick' : 'latest');
  if (!/^[\w.-]+$/.test(out)) fail('--out must be a plain file name');
  const steps = (
    values.steps ?? (quick ? '2500,5000,10000' : '1000,1500,2000,2500,3500,5000,7500,10000,15000,20000')
  )
    .split(',')
    .map((s) => num(s.trim(), 0, 'steps', 1, 200_000));
  const calls = (values.calls ?? ALL_CALLS.join(','))
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c !== 'none');
  for (const c of calls) if (!ALL_CALLS.includes(c as Call)) fail(`--calls: unknown call ${c}`);
  const large = Math.round(num(values.large, 1_000_000, 'large', 100, 5_000_000));
  return {
    quick,
    out,
    small: Math.round(num(values.small, 1000, 'small', 100, 100_000)),
    large,
    warmupS: num(values.warmup, quick ? 0.5 : 1.5, 'warmup', 0, 30),
    durationS: num(values.duration, quick ? 1.5 : 4, 'duration', 0.5, 60),
    inFlight: Math.round(num(values['in-flight'], 64, 'in-flight', 2, 1024)),
    connections: Math.round(num(values.connections, 8, 'connections', 1, 256)),
    rowSample: Math.round(num(values['row-sample'], 2000, 'row-sample', 10, 100_000)),
    steps: steps.map(Math.round).filter((m) => m <= large),
    stepWarmupS: quick ? 1 : 2,
    stepS: num(values['step-seconds'], quick ? 3 : 10, 'step-seconds', 1, 120),
    rates: {
      configEveryS: num(values['config-every'], 10, 'config-every', 0.1, 3600),
      restartEveryS: num(values['restart-every'], 5, 'restart-every', 0.1, 3600),
      logEveryS: num(values['log-every'], 5, 'log-every', 0.1, 3600),
      logEntries: Math.round(num(values['log-entries'], 10, 'log-entries', 1, 1000)),
    },
    perConnection: Math.round(num(values['per-connection'], 100, 'per-connection', 1, 10_000)),
    calls: calls as Call[],
    capacity: !values['no-capacity'],
    profile: !values['no-profile'],
    profileDir: values['profile-dir'] ? path.resolve(values['profile-dir']) : undefined,
    profileS: quick ? 1.5 : 3,
    pin: !values['no-pin'],
  };
}

/** The rows, in run order: per call, loaded then 1 in flight, baselines first, then 1k, then 1M. */
function plan(o: Options): RowSpec[] {
  const targetsOf: Record<Call, TargetKey[]> = {
    config: ['connect-pre', 'raw-h2', 'small', 'large'],
    needsRestart: ['connect-pre', 'raw-h2', 'small', 'large'],
    getRobotPartWeb: ['connect-pre', 'connect-reencode', 'small', 'large'],
    getRobotPartJson: ['connect-pre', 'connect-reencode', 'small', 'large'],
    listRobots: ['connect-pre', 'small', 'large'],
    // Last: the servers' log search indexes keep working after these.
    log: ['connect-pre', 'raw-h2', 'small', 'large'],
  };
  const rows: Omit<RowSpec, 'id'>[] = [];
  for (const call of (Object.keys(targetsOf) as Call[]).filter((c) => o.calls.includes(c))) {
    for (const inFlight of [o.inFlight, 1]) {
      for (const target of targetsOf[call]) {
        rows.push({ call, target, inFlight, warmupMs: o.warmupS * 1000, durationMs: o.durationS * 1000 });
      }
    }
  }
  return rows.map((r, i) => ({ ...r, id: String(i + 1) }));
}

/** Pins a child (all its threads, and so every thread it starts later) to one core. */
function pin(child: Child, core: number): boolean {
  const pid = child.process.pid;
  if (pid === undefined) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const errorText = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split('\n', 1)[0]?.slice(0, 300);

function windowOf(
  a: FleetServerStats | undefined,
  b: FleetServerStats | undefined,
): ServerWindow | undefined {
  if (!a || !b || b.wallMs <= a.wallMs) return undefined;
  const wall = b.wallMs - a.wallMs;
  const w: ServerWindow = { cpuPct: ((b.cpuMs - a.cpuMs) / wall) * 100 };
  if (a.mainThreadMs !== undefined && b.mainThreadMs !== undefined) {
    w.mainThreadPct = ((b.mainThreadMs - a.mainThreadMs) / wall) * 100;
  }
  if (
    a.writerMs !== undefined &&
    b.writerMs !== undefined &&
    a.indexerMs !== undefined &&
    b.indexerMs !== undefined
  ) {
    w.writerPct = ((b.writerMs - a.writerMs) / wall) * 100;
    w.indexerPct = ((b.indexerMs - a.indexerMs) / wall) * 100;
  }
  return w;
}

const failedLoad = (error: unknown): RowLoad => ({
  ...emptyRowLoad(),
  errors: 1,
  firstError: errorText(error),
});

async function main(): Promise<number> {
  const o = parseOptions();
  const rows = plan(o);
  const started = performance.now();
  const loadavgAtStart = os.loadavg();
  const busyBeforeStartPct = await machineBusyPct(500);
  const rowMs = rows.reduce((sum, r) => sum + r.warmupMs + r.durationMs + 1500, 0);
  const seedMs = Math.max(60_000, (o.large / 1_000_000) * 240_000);
  const capacityMs = o.capacity ? o.steps.length * ((o.stepWarmupS + o.stepS) * 1000 + 45_000) : 0;
  const profileMs = o.profile ? 12 * (o.profileS * 1000 + 3000) : 0;
  const plannedMs = seedMs + rowMs + capacityMs + profileMs + 60_000;
  const { spawn, tempDir } = startRun({
    name: 'machines bench',
    watchdogMs: plannedMs + 120_000,
    childDeadlineMs: plannedMs + 180_000,
  });
  const profileDir = o.profileDir ?? tempDir('flotilla-machines-profiles-');
  mkdirSync(profileDir, { recursive: true });
  console.log(
    `machines bench: fleets of ${int(o.small)} and ${int(o.large)} machines, ${rows.length} rows of ` +
      `${o.warmupS} + ${o.durationS} s, capacity steps ${o.capacity ? o.steps.map(int).join(', ') : 'off'}; ` +
      `bounded at ${Math.round((plannedMs + 120_000) / 60_000)} min`,
  );

  // ---- the fleets ----
  const fleetChildren: Record<FleetKey, Child> = {
    large: spawn('fleet server (1M)', 'fleet-server.ts', ['--expose-gc']),
    small: spawn('fleet server (1k)', 'fleet-server.ts', ['--expose-gc']),
  };
  const sampleLarge = Math.max(o.rowSample, o.capacity ? Math.max(0, ...o.steps) : 0);
  const prepare = (key: FleetKey, machines: number, sampleSize: number) =>
    fleetChildren[key].call<PreparedFleet>(
      'prepare',
      {
        dataDir: tempDir(`flotilla-machines-${key}-`),
        machines,
        perLocation: PER_LOCATION,
        sampleSize,
        locationSample: LOCATION_SAMPLE,
        verifyParts: 5,
      },
      seedMs + 120_000,
    );
  const seedStart = performance.now();
  const [large, small] = await Promise.all([
    prepare('large', o.large, sampleLarge),
    prepare('small', o.small, Math.min(o.rowSample, o.small)),
  ]);
  const prepared: Record<FleetKey, PreparedFleet> = { small, large };
  for (const [key, f] of Object.entries(prepared)) {
    console.log(
      `seeded ${key} fleet: ${int(f.report.machines)} machines in ${int(f.report.locations)} locations; ` +
        `template ${ms(f.report.templateMs)} ms, clone ${(f.report.cloneMs / 1000).toFixed(1)} s, ` +
        `${int(f.report.dbBytes / 2 ** 20)} MiB; restart ${ms(f.restartMs)} ms; API check ${ms(f.verifyMs)} ms`,
    );
  }
  console.log(`seeding took ${((performance.now() - seedStart) / 1000).toFixed(1)} s (both fleets at once)`);
  // What each server does with no calls at all (background work such as log retention passes).
  const resting = await Promise.all(
    (['small', 'large'] as const).map(async (key) => {
      const a = await fleetChildren[key].call<FleetServerStats>('stats', undefined, 10_000);
      await new Promise((resolve) => setTimeout(resolve, RESTING_SAMPLE_MS));
      return windowOf(a, await fleetChildren[key].call<FleetServerStats>('stats', undefined, 10_000));
    }),
  );
  const restingOf: Record<FleetKey, ServerWindow | undefined> = { small: resting[0], large: resting[1] };
  console.log(
    `servers at rest: 1k ${Math.round(resting[0]?.cpuPct ?? 0)}% CPU, 1M ${Math.round(resting[1]?.cpuPct ?? 0)}% CPU`,
  );

  // V8's default young generation: a larger one (64 MB) made the generator's scavenges rarer but
  // up to 90 ms long, with many survivors to copy, which showed as late calls and slow replies.
  const load = spawn('load generator', 'machine-load.ts');
  const baselines = spawn('baseline servers', 'machine-baselines.ts');
  const servers: Record<TargetKey, Child> = {
    small: fleetChildren.small,
    large: fleetChildren.large,
    'connect-pre': baselines,
    'connect-reencode': baselines,
    'raw-h2': baselines,
  };
  const canPin = o.pin && os.cpus().length >= 2;
  const pinned =
    canPin &&
    [fleetChildren.small, fleetChildren.large, baselines].every((c) => pin(c, SERVER_CORE)) &&
    pin(load, LOAD_CORE);
  const placement = pinned
    ? `pinned with taskset: servers on core ${SERVER_CORE} (worker threads included), load generator on core ${LOAD_CORE}`
    : 'not pinned: every process floats over all cores';
  console.log(placement);

  // Both fleets' rows draw from the same number of machines (the whole 1k fleet by default), so
  // the servers hold the same working set and what differs is the size of the database.
  const rowMachines = Math.min(o.rowSample, o.small);
  const fleetSetup = (key: FleetKey, rowSample: number): FleetSetup => {
    const f = prepared[key];
    return {
      key,
      url: f.ready.url,
      apiKeyId: f.ready.apiKeyId,
      apiKey: f.ready.apiKey,
      parts: f.sample,
      rowSample: Math.min(rowSample, f.sample.length),
      locations: f.fullLocations,
      secret: f.template.secret,
      served: f.template.served,
    };
  };
  const setup = await load.call<LoadSetupResult>(
    'setup',
    { fleets: [fleetSetup('small', rowMachines), fleetSetup('large', rowMachines)] },
    10 * 60_000,
  );
  const b = await baselines.call<BaselinesReady>(
    'start',
    { replies: setup.replies, partTokens: setup.partTokens, ownerToken: setup.ownerToken },
    60_000,
  );
  const urls: Record<TargetKey, string> = {
    small: small.ready.url,
    large: large.ready.url,
    'connect-pre': b.connectPreUrl,
    'connect-reencode': b.connectReencodeUrl,
    'raw-h2': b.rawH2Url,
  };

  // ---- CPU marks: the load generator says when a window starts and ends ----
  let currentId: string | undefined;
  let currentServer: Child | undefined;
  const marks = new Map<string, Promise<FleetServerStats | undefined>>();
  const machineMarks = new Map<string, MachineSnapshot | undefined>();
  load.onNotice((notice, data) => {
    if (data !== currentId || !currentServer) return;
    machineMarks.set(`${currentId}:${notice}`, machineSnapshot());
    marks.set(
      `${currentId}:${notice}`,
      currentServer.call<FleetServerStats>('stats', undefined, 10_000).catch(() => undefined),
    );
  });
  const windowFor = async (id: string, clientCpuPct: number) => {
    const [a, z] = await Promise.all([marks.get(`${id}:measure-start`), marks.get(`${id}:measure-end`)]);
    const m0 = machineMarks.get(`${id}:measure-start`);
    const m1 = machineMarks.get(`${id}:measure-end`);
    const server = windowOf(a, z);
    const otherCpuPct =
      m0 && m1 && server ? Math.max(0, machinePercent(m0, m1) - server.cpuPct - clientCpuPct) : undefined;
    return { server, otherCpuPct };
  };

  /**
   * Only the server being measured runs; the others are stopped (SIGSTOP) so that their
   * background work (the log search indexer after Log rows, log retention passes that walk every
   * part) takes nothing from the core they share with it.
   */
  const serverChildren = [fleetChildren.small, fleetChildren.large, baselines];
  const frozen = new Set<Child>();
  const activate = (...active: Child[]) => {
    for (const c of serverChildren) {
      const freeze = !active.includes(c);
      const pid = c.process.pid;
      if (freeze === frozen.has(c) || pid === undefined || c.process.exitCode !== null) continue;
      try {
        process.kill(pid, freeze ? 'SIGSTOP' : 'SIGCONT');
        if (freeze) frozen.add(c);
        else frozen.delete(c);
      } catch {
        // it exited meanwhile
      }
    }
  };

  const runRow = async (spec: RowSpec, id = spec.id): Promise<RowLoad> => {
    const run: RowRun = {
      ...spec,
      id,
      url: urls[spec.target],
      fleet: spec.target === 'small' ? 'small' : 'large',
      expect: isFlotilla(spec.target) ? 'requested' : 'reference',
      connections: o.connections,
      logBatch: LOG_BATCH,
      callTimeoutMs: CALL_TIMEOUT_MS,
    };
    try {
      return await load.call<RowLoad>('row', run, spec.warmupMs + spec.durationMs + CALL_TIMEOUT_MS + 30_000);
    } catch (error) {
      return failedLoad(error);
    }
  };

  // ---- rows ----
  const results: RowResult[] = [];
  const marker: Partial<Record<FleetKey, MarkerResult>> = {};
  const markerWords: Partial<Record<FleetKey, string>> = {};
  const markerBuried: Partial<Record<FleetKey, number>> = {};
  let previous: Call | undefined;
  for (const spec of rows) {
    if (spec.call === 'log' && previous !== 'log') {
      // A marker entry before the Log rows, to be searched for after them.
      for (const key of ['small', 'large'] as const) {
        activate(fleetChildren[key]);
        const word = `mk${Math.random().toString(36).slice(2, 10)}${key}`;
        await load
          .call<{ buried: number }>('markerSend', { fleet: key, marker: word, bury: MARKER_BURY }, 60_000)
          .then(({ buried }) => {
            markerWords[key] = word;
            markerBuried[key] = buried;
          })
          .catch((e: unknown) => {
            marker[key] = {
              found: false,
              ms: 0,
              polls: 0,
              lastQueryMs: 0,
              entriesAfter: 0,
              entriesAfterOnPart: 0,
              error: errorText(e),
            };
          });
      }
    }
    previous = spec.call;
    currentId = spec.id;
    currentServer = servers[spec.target];
    activate(servers[spec.target]);
    const result = await runRow(spec);
    const { server, otherCpuPct } = await windowFor(spec.id, result.clientCpuPct);
    const row: RowResult = { ...spec, ...result, server, otherCpuPct };
    results.push(row);
    const errors = row.errors + row.warmupErrors;
    console.log(
      `#${row.id} ${rowLabel(row)}: ${int(row.callsPerSec)} calls/s` +
        (row.entriesPerSec === undefined ? '' : ` (${int(row.entriesPerSec)} entries/s)`) +
        `, p50 ${ms(row.latency.p50)} ms, p99 ${ms(row.latency.p99)} ms` +
        (server ? `, server CPU ${Math.round(server.cpuPct)}%` : '') +
        `, load CPU ${Math.round(row.clientCpuPct)}%` +
        (errors > 0 ? `, ${errors} ERRORS: ${row.firstError}` : '') +
        (row.checkError ? `, CHECK FAILED: ${row.checkError}` : ''),
    );
  }
  currentId = undefined;

  // The markers, searched for now that the Log rows stored many newer entries.
  for (const key of ['small', 'large'] as const) {
    const word = markerWords[key];
    if (!word) continue;
    activate(fleetChildren[key]);
    const entriesAfter = results
      .filter((r) => r.call === 'log' && r.target === key)
      .reduce((n, r) => n + (r.calls + r.warmupCalls) * LOG_BATCH, 0);
    try {
      const found = await load.call<Omit<MarkerResult, 'entriesAfter' | 'entriesAfterOnPart'>>(
        'markerFind',
        { fleet: key, marker: word, timeoutMs: 10_000 },
        60_000,
      );
      marker[key] = { ...found, entriesAfter, entriesAfterOnPart: markerBuried[key] ?? 0 };
      console.log(
        `marker on the ${key} fleet: ${found.found ? `found in ${ms(found.ms)} ms (${found.polls} polls)` : `NOT found (${found.error ?? 'timeout'})`}`,
      );
    } catch (error) {
      marker[key] = {
        found: false,
        ms: 0,
        polls: 0,
        lastQueryMs: 0,
        entriesAfter,
        entriesAfterOnPart: markerBuried[key] ?? 0,
        error: errorText(error),
      };
    }
  }

  // ---- capacity ----
  let capacity: CapacitySummary | undefined;
  const stepSpec = (machines: number, id: string, durationMs: number): CapacitySpec => ({
    id,
    url: urls.large,
    machines,
    perConnection: o.perConnection,
    rates: o.rates,
    warmupMs: o.stepWarmupS * 1000,
    durationMs,
    callTimeoutMs: CALL_TIMEOUT_MS,
    maxInFlight: MAX_IN_FLIGHT,
    jitter: 0.05,
  });
  let firstFailing: CapacityStep | undefined;
  const bootFailures: string[] = [];
  if (o.capacity && o.steps.length > 0) {
    capacity = {
      rates: o.rates,
      perConnection: o.perConnection,
      p99LimitMs: P99_LIMIT_MS,
      warmupSeconds: o.stepWarmupS,
      durationSeconds: o.stepS,
      steps: [],
      sustained: 0,
      stopped: 'every step passed',
      authParts: 0,
      authMs: 0,
      settleMs: 0,
      settledCpuPct: 0,
    };
    // The Log rows leave the server indexing what they pushed (its indexer runs behind under
    // load by design); a fleet at a steady rate has no such backlog, so the steps wait it out.
    activate(fleetChildren.large);
    const settleStart = performance.now();
    for (;;) {
      const a = await fleetChildren.large.call<FleetServerStats>('stats', undefined, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const w = windowOf(a, await fleetChildren.large.call<FleetServerStats>('stats', undefined, 10_000));
      capacity.settledCpuPct = w?.cpuPct ?? 0;
      if (capacity.settledCpuPct <= SETTLED_CPU_PCT || performance.now() - settleStart > SETTLE_MAX_S * 1000)
        break;
    }
    capacity.settleMs = performance.now() - settleStart;
    console.log(
      `capacity: the 1M server settled in ${(capacity.settleMs / 1000).toFixed(1)} s (${Math.round(capacity.settledCpuPct)}% CPU at rest)`,
    );
    for (const machines of o.steps) {
      activate(fleetChildren.large);
      const auth = await load.call<{ parts: number; ms: number }>('tokens', { machines }, 10 * 60_000);
      capacity.authParts += auth.parts;
      capacity.authMs += auth.ms;
      const boot = await load.call<BootResult>(
        'boot',
        { machines, inFlight: BOOT_IN_FLIGHT, callTimeoutMs: 30_000 },
        30 * 60_000,
      );
      if (boot.errors > 0)
        bootFailures.push(
          `booting ${int(machines)} machines: ${boot.errors} Config calls failed (${boot.firstError ?? '?'})`,
        );
      const id = `capacity-${machines}`;
      currentId = id;
      currentServer = fleetChildren.large;
      const spec = stepSpec(machines, id, o.stepS * 1000);
      let stepLoad: CapacityLoad;
      try {
        stepLoad = await load.call<CapacityLoad>(
          'capacity',
          spec,
          spec.warmupMs + spec.durationMs + CALL_TIMEOUT_MS + 60_000,
        );
      } catch (error) {
        capacity.stopped = `the step of ${int(machines)} machines failed: ${errorText(error)}`;
        break;
      }
      const { server, otherCpuPct } = await windowFor(id, stepLoad.clientCpuPct);
      const slow = MACHINE_CALLS.filter((c) => stepLoad.byCall[c].latency.p99 >= P99_LIMIT_MS);
      const errors = MACHINE_CALLS.reduce((n, c) => n + stepLoad.byCall[c].errors, 0);
      const missing = MACHINE_CALLS.filter((c) => stepLoad.byCall[c].ok === 0);
      const problems: string[] = [];
      if (slow.length > 0)
        problems.push(`p99 ≥ ${P99_LIMIT_MS} ms for ${slow.map((c) => CALLS[c].name).join(', ')}`);
      if (errors > 0) problems.push(`${errors} errors`);
      if (stepLoad.droppedAtCap > 0)
        problems.push(`${stepLoad.droppedAtCap} calls dropped at ${MAX_IN_FLIGHT} in flight`);
      if (stepLoad.unfinished > 0) problems.push(`${stepLoad.unfinished} calls never answered`);
      if (missing.length > 0) problems.push(`no ${missing.map((c) => CALLS[c].name).join(', ')} answered`);
      // The server is judged only on a schedule the generator kept; when the server failed too,
      // the generator's lateness is only a note.
      const limitedBy =
        problems.length > 0 ? 'server' : stepLoad.generatorBound ? 'load generator' : undefined;
      if (stepLoad.generatorBound) problems.push(stepLoad.generatorNote ?? 'the load generator fell behind');
      const step: CapacityStep = {
        ...stepLoad,
        booted: boot.parts,
        bootMs: boot.ms,
        server,
        otherCpuPct,
        passed: limitedBy === undefined,
        ...(limitedBy ? { limitedBy } : {}),
        verdict: limitedBy === undefined ? 'pass' : problems.join('; '),
      };
      capacity.steps.push(step);
      console.log(
        `capacity ${int(machines)} machines (${step.connections} connections): due ${int(step.scheduledPerSec)}/s, ` +
          `sent ${int(step.sentPerSec)}/s, p99 ${MACHINE_CALLS.map((c) => `${CALLS[c].name} ${ms(step.byCall[c].latency.p99)}`).join(', ')} ms` +
          (server ? `, server CPU ${Math.round(server.cpuPct)}%` : '') +
          `, load CPU ${Math.round(step.clientCpuPct)}%: ${step.verdict}`,
      );
      if (limitedBy) {
        firstFailing = step;
        capacity.stopped =
          limitedBy === 'load generator'
            ? `stopped at ${int(machines)} machines: the load generator, not the server, fell behind (${stepLoad.generatorNote ?? ''})`
            : `stopped at ${int(machines)} machines: ${step.verdict}`;
        break;
      }
      capacity.sustained = machines;
    }
    currentId = undefined;
  }

  // ---- targets, and profiles for the missed ones ----
  const targets = evaluateTargets(results, marker, capacity, o.inFlight);
  const profiles: ProfileRecord[] = [];
  if (o.profile) {
    const byRow = new Map<string, string[]>();
    for (const t of targets) {
      if (t.met === false && t.profileRow)
        byRow.set(t.profileRow, [...(byRow.get(t.profileRow) ?? []), t.id]);
    }
    for (const [rowId, ids] of byRow) {
      const spec = rowId === 'capacity' ? undefined : results.find((r) => r.id === rowId);
      const child = fleetChildren[spec?.target === 'small' ? 'small' : 'large'];
      if (rowId === 'capacity' && firstFailing?.limitedBy !== 'server') continue;
      const file = path.join(profileDir, `machines-${rowId}.cpuprofile`);
      activate(child);
      try {
        await child.call('profileStart', undefined, 10_000);
        let callsPerSec: number;
        let label: string;
        if (spec) {
          const load1 = await runRow(
            { ...spec, warmupMs: 500, durationMs: o.profileS * 1000 },
            `profile-${rowId}`,
          );
          callsPerSec = load1.callsPerSec;
          label = `Row ${rowId}: ${rowLabel(spec)}`;
        } else {
          const machines = firstFailing?.machines ?? 0;
          const stepLoad = await load.call<CapacityLoad>(
            'capacity',
            { ...stepSpec(machines, 'profile-capacity', o.profileS * 1000), warmupMs: 1000 },
            o.profileS * 1000 + CALL_TIMEOUT_MS + 60_000,
          );
          callsPerSec = stepLoad.sentPerSec;
          label = `Capacity step of ${int(machines)} machines (the first that failed)`;
        }
        await child.call('profileStop', { file }, 60_000);
        profiles.push({
          targets: ids,
          label,
          seconds: o.profileS,
          callsPerSec,
          summary: summarizeProfile(file, 12),
          ...(o.profileDir ? { file } : {}),
        });
        console.log(`profiled ${label}`);
      } catch (error) {
        await child.call('profileStop', { file }, 60_000).catch(() => undefined);
        console.log(`profile of row ${rowId} failed: ${errorText(error)}`);
      }
    }
  }

  activate(...serverChildren);
  const baselineCounters = await baselines
    .call<{ served: number; rejected: number; logEntries: number }>('stats', undefined, 10_000)
    .catch(() => undefined);
  await Promise.all([
    load.stop(5_000),
    baselines.stop(5_000),
    fleetChildren.small.stop(30_000),
    fleetChildren.large.stop(30_000),
  ]);

  // ---- the verdict ----
  const failures: string[] = [];
  for (const r of results) {
    const errors = r.errors + r.warmupErrors;
    if (errors > 0)
      failures.push(`row ${r.id} (${rowLabel(r)}): ${errors} failed calls; first: ${r.firstError ?? '?'}`);
    else if (r.calls === 0) failures.push(`row ${r.id} (${rowLabel(r)}): no calls completed`);
    if (r.checkError) failures.push(`row ${r.id} (${rowLabel(r)}): reply check failed: ${r.checkError}`);
  }
  for (const key of ['small', 'large'] as const) {
    const m = marker[key];
    if (m && !m.found)
      failures.push(
        `the ${key} fleet's marker entry was not found by GetRobotPartLogs: ${m.error ?? 'timeout'}`,
      );
  }
  for (const step of capacity?.steps ?? []) {
    for (const c of MACHINE_CALLS) {
      const s = step.byCall[c];
      if (s.hardErrors > 0) {
        failures.push(
          `capacity step of ${int(step.machines)}: ${s.hardErrors} ${CALLS[c].name} calls failed (${s.firstError ?? '?'})`,
        );
      }
    }
  }
  for (const key of ['small', 'large'] as const) {
    const b = setup.boot[key];
    if (b.errors > 0)
      failures.push(
        `booting the ${key} fleet's row machines: ${b.errors} Config calls failed (${b.firstError ?? '?'})`,
      );
  }
  failures.push(...bootFailures);
  if (baselineCounters && baselineCounters.rejected > 0) {
    failures.push(`the baseline servers refused ${baselineCounters.rejected} calls for a bad token`);
  }
  const warnings: string[] = [];
  if (busyBeforeStartPct !== undefined && busyBeforeStartPct > OTHER_CPU_WARN_PCT) {
    warnings.push(
      `the machine was already ${Math.round(busyBeforeStartPct)}% of a core busy before the run started: ` +
        'something else was running; rerun on a quiet machine',
    );
  }
  const busy = results.filter((r) => (r.otherCpuPct ?? 0) > OTHER_CPU_WARN_PCT);
  if (busy.length > 0) {
    warnings.push(
      `other processes used more than ${OTHER_CPU_WARN_PCT}% of a core during rows ` +
        `${busy.map((r) => `#${r.id} (${Math.round(r.otherCpuPct ?? 0)}%)`).join(', ')}: those numbers are not reliable`,
    );
  }
  for (const key of ['small', 'large'] as const) {
    const notCloned = prepared[key].report.notCloned;
    if (notCloned.length > 0) {
      warnings.push(
        `the ${key} fleet's clones lack rows the template has: ${notCloned.join(', ')} (fleet-seed.ts needs updating)`,
      );
    }
  }
  if (!pinned && o.pin)
    warnings.push('taskset was not available (or failed): processes were not pinned to cores');

  const fleetSummary = (key: FleetKey): FleetSummary => ({
    ...prepared[key].report,
    restartMs: prepared[key].restartMs,
    verifyMs: prepared[key].verifyMs,
    authParts: setup.auth[key].parts,
    authMs: setup.auth[key].ms,
    bootParts: setup.boot[key].parts,
    bootMs: setup.boot[key].ms,
    resting: restingOf[key],
  });
  const report: MachinesReport = {
    date: reportDate(),
    environment: runEnvironment({ loadavgAtStart, busyBeforeStartPct }, {}),
    settings: {
      quick: o.quick,
      placement,
      warmupSeconds: o.warmupS,
      durationSeconds: o.durationS,
      inFlight: [o.inFlight, 1],
      connections: o.connections,
      logBatch: LOG_BATCH,
      rowSample: rowMachines,
      perLocation: PER_LOCATION,
      profileSeconds: o.profileS,
    },
    fleets: { small: fleetSummary('small'), large: fleetSummary('large') },
    rows: results,
    marker,
    capacity,
    targets,
    profiles,
    baselineCounters,
    ok: failures.length === 0,
    failures,
    warnings,
    wallSeconds: (performance.now() - started) / 1000,
  };
  const md = await writeReport(o.out, report, renderMachinesMarkdown(report));
  console.log(`\n${md}`);
  console.log(`machines bench: wrote bench/reports/${o.out}.md and .json`);
  for (const w of warnings) console.error(`machines bench: warning: ${w}`);
  if (!report.ok) console.error(`machines bench: FAILED\n${failures.join('\n')}`);
  return report.ok ? 0 : 1;
}

runMain('machines bench', main);
