/*
 * `npm run bench`: Flotilla's RPC throughput and latency, as ratios against a bare connect-node
 * server measured in the same run on the same machine. See bench/README.md.
 *
 * Three children, all on 127.0.0.1: the real Flotilla server (SQLite), the baseline server, and
 * a load generator. Rows run one after another, alternating servers, so drift over the run hits
 * both alike. Every loop is bounded in time and calls; every child has its own hard deadline and
 * is killed by PID when this process exits.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { FlotillaReady } from './lib/flotilla-instance.js';
import { runMain, startRun, type Child } from './lib/ipc.js';
import type { SetupResult } from './lib/load-generator.js';
import { renderMarkdown, writeReport, type BenchReport } from './lib/report.js';
import { reportDate, runEnvironment } from './lib/run-info.js';
import {
  cpuPercent,
  machineBusyPct,
  machinePercent,
  machineSnapshot,
  OTHER_CPU_WARN_PCT,
  type CpuSnapshot,
  type MachineSnapshot,
} from './lib/stats.js';
import {
  METHODS,
  PROTOCOLS,
  type LoadResult,
  type Method,
  type Protocol,
  type RowResult,
  type RowSpec,
  type Target,
  type TargetInfo,
} from './lib/types.js';

const USAGE = `usage: node --import tsx bench/flotilla-bench.ts [--quick] [--warmup S] [--duration S]
       [--concurrency N] [--out NAME]
  --quick          1 s warm-up + 3 s measured per row (default 2 s + 8 s); writes reports/quick.*
  --warmup S       warm-up seconds per row (1-in-flight rows: half)
  --duration S     measured seconds per row (1-in-flight rows: half)
  --concurrency N  calls in flight for the loaded rows (default 32)
  --out NAME       report name under bench/reports/ (default latest, or quick with --quick)`;

interface Options {
  quick: boolean;
  warmupS: number;
  durationS: number;
  concurrency: number;
  out: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      concurrency: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (v: string | undefined, fallback: number, name: string, min: number, max: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      console.error(`--${name} must be a number from ${min} to ${max}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const quick = values.quick;
  const out = values.out ?? (quick ? 'api-quick' : 'api-latest');
  if (!/^[\w.-]+$/.test(out)) {
    console.error(`--out must be a plain file name\n${USAGE}`);
    process.exit(2);
  }
  return {
    quick,
    warmupS: num(values.warmup, quick ? 1 : 2, 'warmup', 0, 30),
    durationS: num(values.duration, quick ? 3 : 8, 'duration', 0.5, 60),
    concurrency: Math.round(num(values.concurrency, 32, 'concurrency', 1, 256)),
    out,
  };
}

/**
 * The rows, in run order: per protocol, the loaded baseline row, then Flotilla's methods at the
 * same concurrency; then the 1-in-flight GetOrganization rows.
 */
function plan(o: Options): RowSpec[] {
  const rows: Omit<RowSpec, 'id'>[] = [];
  const loaded = { warmupMs: o.warmupS * 1000, durationMs: o.durationS * 1000 };
  const unloaded = { warmupMs: loaded.warmupMs / 2, durationMs: loaded.durationMs / 2 };
  const protocols = Object.keys(PROTOCOLS) as Protocol[];
  for (const protocol of protocols) {
    const common = { protocol, concurrency: o.concurrency, ...loaded };
    rows.push({ ...common, target: 'baseline', method: 'getOrganization' });
    for (const method of Object.keys(METHODS) as Method[])
      rows.push({ ...common, target: 'flotilla', method });
  }
  for (const protocol of protocols) {
    for (const target of ['baseline', 'flotilla'] as const) {
      rows.push({ protocol, concurrency: 1, ...unloaded, target, method: 'getOrganization' });
    }
  }
  return rows.map((r, i) => ({ ...r, id: String(i + 1) }));
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toPrecision(3));

async function main(): Promise<number> {
  const options = parseOptions();
  const rows = plan(options);
  const started = performance.now();
  const loadavgAtStart = os.loadavg();
  // How busy the machine is before anything starts (0.5 s sample of /proc/stat).
  const idleCheckPct = await machineBusyPct(500);
  const plannedMs = rows.reduce((sum, r) => sum + r.warmupMs + r.durationMs, 0);
  // Children exit by themselves after their deadline; this process gives up a little earlier.
  const { spawn, tempDir } = startRun({
    name: 'bench',
    watchdogMs: plannedMs + 90_000,
    childDeadlineMs: plannedMs + 120_000,
  });
  const dataDir = tempDir('flotilla-bench-');

  console.log(
    `bench: ${rows.length} rows, about ${Math.round(plannedMs / 1000) + 10} s; ` +
      `${options.concurrency} in flight, ${options.warmupS} s + ${options.durationS} s per row`,
  );
  const flotilla = spawn('flotilla server', 'flotilla-server.ts');
  const load = spawn('load generator', 'load-generator.ts');
  const f = await flotilla.call<FlotillaReady>('start', { dataDir }, 60_000);
  const setup = await load.call<SetupResult>(
    'setup',
    { url: f.url, organizationId: f.organizationId, apiKeyId: f.apiKeyId, apiKey: f.apiKey },
    30_000,
  );
  const baseline = spawn('baseline server', 'baseline-server.ts');
  const b = await baseline.call<{ url: string }>(
    'start',
    { token: setup.token, organizationId: f.organizationId, replyBase64: setup.orgReplyBase64 },
    60_000,
  );
  const servers: Record<Target, Child> = { baseline, flotilla };
  const targets: Record<Target, TargetInfo> = {
    baseline: {
      url: b.url,
      token: setup.token,
      organizationId: f.organizationId,
      locationId: setup.locationId,
    },
    flotilla: {
      url: f.url,
      token: setup.token,
      organizationId: f.organizationId,
      locationId: setup.locationId,
    },
  };

  // The server's CPU over the measured window, read when the load generator says it starts and ends.
  let current: RowSpec | undefined;
  const marks = new Map<string, Promise<CpuSnapshot | undefined>>();
  const machineMarks = new Map<string, MachineSnapshot | undefined>();
  load.onNotice((notice, data) => {
    if (!current || data !== current.id) return;
    machineMarks.set(`${current.id}:${notice}`, machineSnapshot());
    marks.set(
      `${current.id}:${notice}`,
      servers[current.target].call<CpuSnapshot>('stats', undefined, 10_000).catch(() => undefined),
    );
  });

  const results: RowResult[] = [];
  for (const spec of rows) {
    current = spec;
    let result: LoadResult;
    try {
      result = await load.call<LoadResult>(
        'row',
        { spec, target: targets[spec.target] },
        spec.warmupMs + spec.durationMs + 30_000,
      );
    } catch (error) {
      result = {
        calls: 0,
        errors: 1,
        warmupCalls: 0,
        warmupErrors: 0,
        firstError: (error instanceof Error ? error.message : String(error)).split('\n', 1)[0]?.slice(0, 300),
        elapsedMs: 0,
        callsPerSec: 0,
        p50Ms: 0,
        p90Ms: 0,
        p99Ms: 0,
        maxMs: 0,
        meanMs: 0,
        replyBytes: 0,
        clientCpuPct: 0,
      };
    }
    const [cpu0, cpu1] = await Promise.all([
      marks.get(`${spec.id}:measure-start`),
      marks.get(`${spec.id}:measure-end`),
    ]);
    const base = results.find(
      (r) => r.target === 'baseline' && r.protocol === spec.protocol && r.concurrency === spec.concurrency,
    );
    const m0 = machineMarks.get(`${spec.id}:measure-start`);
    const m1 = machineMarks.get(`${spec.id}:measure-end`);
    const serverCpuPct = cpu0 && cpu1 ? cpuPercent(cpu0, cpu1) : undefined;
    const row: RowResult = {
      ...spec,
      ...result,
      serverCpuPct,
      otherCpuPct:
        m0 && m1 && serverCpuPct !== undefined && result.calls > 0
          ? Math.max(0, machinePercent(m0, m1) - serverCpuPct - result.clientCpuPct)
          : undefined,
      baselineId: spec.target === 'baseline' ? spec.id : base?.id,
      ratio:
        spec.target === 'baseline'
          ? 1
          : base && base.callsPerSec > 0
            ? result.callsPerSec / base.callsPerSec
            : undefined,
    };
    results.push(row);
    console.log(
      `#${row.id} ${row.target} ${METHODS[row.method]} ${row.protocol} x${row.concurrency}: ` +
        `${Math.round(row.callsPerSec)} calls/s, p50 ${fmt(row.p50Ms)} ms, p99 ${fmt(row.p99Ms)} ms` +
        (row.target === 'flotilla' && row.ratio !== undefined
          ? `, ${row.ratio.toFixed(2)}x of #${row.baselineId}`
          : '') +
        (row.serverCpuPct === undefined ? '' : `, server CPU ${Math.round(row.serverCpuPct)}%`) +
        (row.otherCpuPct === undefined ? '' : `, other CPU ${Math.round(row.otherCpuPct)}%`) +
        (row.errors + row.warmupErrors > 0
          ? `, ${row.errors + row.warmupErrors} ERRORS: ${row.firstError}`
          : ''),
    );
  }
  current = undefined;

  const baselineServer = await baseline
    .call<{ served: number; rejected: number }>('stats', undefined, 10_000)
    .catch(() => undefined);
  await Promise.all([load.stop(5_000), baseline.stop(5_000), flotilla.stop(15_000)]);

  const failures: string[] = [];
  for (const r of results) {
    const errors = r.errors + r.warmupErrors;
    if (errors > 0) failures.push(`row ${r.id}: ${errors} failed calls; first: ${r.firstError ?? '?'}`);
    else if (r.calls === 0) failures.push(`row ${r.id}: no calls completed`);
  }
  if (baselineServer && baselineServer.rejected > 0) {
    failures.push(`baseline server refused ${baselineServer.rejected} calls for a bad token`);
  }

  const warnings: string[] = [];
  if (idleCheckPct !== undefined && idleCheckPct > OTHER_CPU_WARN_PCT) {
    warnings.push(
      `the machine was already ${Math.round(idleCheckPct)}% of a core busy before the run started: ` +
        'something else was running; rerun on a quiet machine',
    );
  }
  const busy = results.filter((r) => (r.otherCpuPct ?? 0) > OTHER_CPU_WARN_PCT);
  if (busy.length > 0) {
    warnings.push(
      `other processes used more than ${OTHER_CPU_WARN_PCT}% of a core during rows ` +
        `${busy.map((r) => `#${r.id} (${Math.round(r.otherCpuPct ?? 0)}%)`).join(', ')}: ` +
        'those numbers (and ratios against them) are not reliable',
    );
  }
  const report: BenchReport = {
    date: reportDate(),
    environment: runEnvironment({ loadavgAtStart, busyBeforeStartPct: idleCheckPct }, {}),
    settings: {
      quick: options.quick,
      database: 'sqlite',
      concurrency: options.concurrency,
      warmupSeconds: options.warmupS,
      durationSeconds: options.durationS,
      unloadedWarmupSeconds: options.warmupS / 2,
      unloadedDurationSeconds: options.durationS / 2,
    },
    rows: results,
    baselineServer,
    ok: failures.length === 0,
    failures,
    warnings,
    wallSeconds: (performance.now() - started) / 1000,
  };
  const md = await writeReport(options.out, report, renderMarkdown(report));
  console.log(`\n${md}`);
  console.log(`bench: wrote bench/reports/${options.out}.md and .json`);
  for (const w of warnings) console.error(`bench: warning: ${w}`);
  if (!report.ok) console.error(`bench: FAILED\n${failures.join('\n')}`);
  return report.ok ? 0 : 1;
}

runMain('bench', main);
