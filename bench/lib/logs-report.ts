/*
 * The logs benchmark's report: what is kept in logs-latest.json and how logs-latest.md shows it.
 */
import type { QueryResult, TailResult } from './logs-load.js';
import { closingLines, environmentParagraph, int, ms, pct } from './report.js';
import type { RunEnvironment } from './run-info.js';
import type { LatencySummary } from './stats.js';

/** A server process over a measured window, each % of one core. */
export interface ServerWindow {
  /** CPU time over the window, ms (all threads; main thread alone). */
  cpuMs: number;
  mainThreadMs?: number;
  cpuPct: number;
  /** Flotilla only: the main (event-loop) thread. */
  mainThreadPct?: number;
  /** Flotilla only: the threads that appeared once the server started (its worker threads). */
  workerThreadsPct?: number;
  /** The same, thread by thread in creation order (thread id order). */
  workerThreads?: { tid: string; pct: number }[];
  /** Flotilla only: V8 and libuv helper threads (GC, compiler). */
  helperThreadsPct?: number;
  /** Flotilla only: event-loop utilization of the main thread, %. */
  eventLoopPct?: number;
  /** Flotilla only: the main thread runnable but waiting for a core, % of the window. */
  mainRunWaitPct?: number;
  /**
   * Flotilla only: the event loop busy while its thread was neither on a CPU nor waiting for
   * one, % of the window: blocked inside synchronous system calls.
   */
  mainBlockedPct?: number;
  /** Flotilla only: the main thread's voluntary context switches per second. */
  mainVoluntarySwitchesPerSec?: number;
}

export interface IngestRow {
  name: string;
  entries: number;
  calls: number;
  failures: number;
  warmupFailures: number;
  firstError?: string;
  elapsedMs: number;
  entriesPerSec: number;
  callLatency: LatencySummary;
  server: ServerWindow | undefined;
  clientCpuPct: number;
  /** The rest of the machine (kernel, other processes), % of one core. */
  otherCpuPct: number | undefined;
  /** Server CPU per stored entry, microseconds (all threads; main thread alone). */
  serverUsPerEntry: number | undefined;
  mainThreadUsPerEntry: number | undefined;
}

export interface RawRow {
  entries: number;
  transactions: number;
  elapsedMs: number;
  entriesPerSec: number;
  cpuPct: number;
  otherCpuPct: number | undefined;
  usPerEntry: number;
  txP50Ms: number;
  txP99Ms: number;
}

export interface IndexLagSummary {
  samples: number;
  maxBacklogEntries: number;
  meanBacklogEntries: number;
  /** Max backlog divided by the ingestion rate. */
  maxBacklogSeconds: number;
  /** Entries the index took in per second over the window (vs the ingestion rate). */
  indexedPerSec: number;
  /** From the end of ingestion until the index covered everything stored by then. */
  catchUpSeconds: number | undefined;
  caughtUp: boolean;
}

export interface ProbeSummary {
  sent: number;
  found: number;
  notFound: number;
  failures: number;
  findable: LatencySummary;
  logCall: LatencySummary;
  pollsMax: number;
  rechecked: number;
  recheckFound: number;
  recheckQuery: LatencySummary;
}

export interface FillSummary {
  partEntries: number;
  complete: boolean;
  failures: number;
  firstError?: string;
  seconds: number;
  entriesPerSec: number;
  server: ServerWindow | undefined;
  clientCpuPct: number;
  otherCpuPct: number | undefined;
  maxBacklogEntries: number;
  catchUpSeconds: number | undefined;
  caughtUp: boolean;
  queriesDuring: { calls: number; failures: number; latency: LatencySummary; firstError?: string };
  queryEveryMs: number;
}

export interface QueryRow extends QueryResult {
  server: ServerWindow | undefined;
  /** Server CPU per call, ms. */
  serverMsPerCall: number | undefined;
  otherCpuPct: number | undefined;
}

export interface TailRow extends TailResult {
  server: ServerWindow | undefined;
  otherCpuPct: number | undefined;
}

export interface TargetCheck {
  what: string;
  value: string;
  target: string;
  met: boolean;
  /** "met", or "missed by ..." */
  verdict: string;
}

export interface LogsBenchReport {
  date: string;
  environment: RunEnvironment & {
    /** sha256 (12 hex) of every file under src/, paths and contents. */
    srcFingerprint: string;
  };
  settings: {
    quick: boolean;
    database: 'sqlite';
    ingestParts: number;
    batch: number;
    warmupSeconds: number;
    durationSeconds: number;
    probeIntervalMs: number;
    recheckAfterMs: number;
    fillEntries: number;
    fillBatch: number;
    fillInFlight: number;
    querySamples: number;
    queryWarmup: number;
    tails: number;
    tailConnections: number;
    tailPushes: number;
    tailEntriesPerPush: number;
    tailIntervalMs: number;
    profiled: boolean;
  };
  ingestion: {
    storeNothing: IngestRow | undefined;
    raw: RawRow | undefined;
    flotilla: IngestRow | undefined;
    ratioToStoreNothing: number | undefined;
    ratioToRaw: number | undefined;
    index: IndexLagSummary | undefined;
    probe: ProbeSummary | undefined;
  };
  fill: FillSummary | undefined;
  queries: QueryRow[];
  tails: TailRow | undefined;
  targets: TargetCheck[];
  /** Where the time goes, for each missed target, from the measurements. */
  explanations: string[];
  /** Main-thread CPU profile summaries (with --profile), by phase. */
  profiles: { phase: string; file: string; top: { what: string; pct: number }[] }[];
  ok: boolean;
  failures: string[];
  warnings: string[];
  wallSeconds: number;
}

const sec = (s: number | undefined) => (s === undefined ? '–' : s < 10 ? s.toFixed(2) : s.toFixed(1));

function serverCells(s: ServerWindow | undefined): string {
  if (!s) return '– | – | – | –';
  return `${pct(s.cpuPct)} | ${pct(s.mainThreadPct)} | ${pct(s.workerThreadsPct)} | ${pct(s.eventLoopPct)}`;
}

export function renderLogsMarkdown(r: LogsBenchReport): string {
  const e = r.environment;
  const s = r.settings;
  const i = r.ingestion;
  const lines: string[] = [];
  lines.push(`# Flotilla logs benchmark — ${r.date}`, '');
  lines.push(
    environmentParagraph(e, `, src/ fingerprint ${e.srcFingerprint}`),
    '',
    `Flotilla on SQLite (the embedded default) in a fresh data directory, default settings. Server, ` +
      `load generator and baselines are separate processes on 127.0.0.1 sharing the ${e.cpuCount} cores. ` +
      `${s.quick ? '**Quick run (--quick): smaller sizes, indicative only.** ' : ''}` +
      `${s.profiled ? '**The server ran with the CPU profiler on (--profile): numbers are a little low.** ' : ''}` +
      `Run time ${Math.round(r.wallSeconds)} s.`,
    '',
  );

  lines.push('## Results against the targets', '');
  lines.push('| measurement | value | target | result |', '|---|---|---|---|');
  for (const t of r.targets)
    lines.push(`| ${t.what} | ${t.value} | ${t.target} | ${t.met ? 'met' : `**${t.verdict}**`} |`);
  lines.push('');

  lines.push('## 1. Ingestion: RobotService.Log', '');
  lines.push(
    `${s.ingestParts} parts (machines), each on its own h2c connection with its own part token, each keeping ` +
      `exactly one Log call of ${s.batch} entries in flight; ${s.warmupSeconds} s warm-up, then ${s.durationSeconds} s ` +
      'measured. Requests are assembled from pre-encoded entries (host, level, a fresh increasing time, logger ' +
      'name, an 80–120 byte message with varying words and numbers, a caller Struct; no stack, no fields) and ' +
      'sent raw with node:http2; a call counts only with grpc-status 0.',
    '',
  );
  lines.push(
    '| row | entries/s | Log call p50 / p99 ms | server CPU % | main thread % | worker threads % | event loop busy % | load CPU % | other CPU % | server µs/entry (main thread) | failed calls |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of [i.storeNothing, i.flotilla]) {
    if (!row) continue;
    lines.push(
      `| ${row.name} | ${int(row.entriesPerSec)} | ${ms(row.callLatency.p50)} / ${ms(row.callLatency.p99)} | ${serverCells(row.server)} | ` +
        `${pct(row.clientCpuPct)} | ${pct(row.otherCpuPct)} | ${row.serverUsPerEntry === undefined ? '–' : row.serverUsPerEntry.toFixed(1)}` +
        `${row.mainThreadUsPerEntry === undefined ? '' : ` (${row.mainThreadUsPerEntry.toFixed(1)})`} | ${row.failures + row.warmupFailures} |`,
    );
  }
  if (i.raw) {
    lines.push(
      `| raw inserts (better-sqlite3, no RPC) | ${int(i.raw.entriesPerSec)} | transaction ${ms(i.raw.txP50Ms)} / ${ms(i.raw.txP99Ms)} | ` +
        `${pct(i.raw.cpuPct)} | – | – | – | – | ${pct(i.raw.otherCpuPct)} | ${i.raw.usPerEntry.toFixed(1)} | 0 |`,
    );
  }
  lines.push('');
  lines.push(
    '- **store nothing**: a bare connect-node server with Flotilla’s options (gRPC, gRPC-web, Connect; h2c and ' +
      'HTTP/1.1 on one port) whose Log handler lets connect decode the request, compares the bearer token in ' +
      'constant time and returns {}.',
    `- **raw inserts**: the same rows in Flotilla’s part_logs schema (foreign key, (part_id, time_us, seq) index, ` +
      `AUTOINCREMENT seq), ${s.batch} rows per transaction, WAL, synchronous=FULL, one connection, no RPC, no ` +
      'search index. "Log call" there is the time of one transaction; CPU is that process.',
    '- CPU columns are % of one core over the measured window. Flotilla’s server CPU counts all its threads; ' +
      '"main thread" is the event loop, "worker threads" the threads that appeared once the server ' +
      'had started (its worker threads; on SQLite the log store’s writer and search indexer), the remainder V8 and libuv helpers. "other" is the rest of the machine (kernel, idle children, anything else).',
    '',
  );
  const fs = i.flotilla?.server;
  if (fs?.workerThreads && fs.workerThreads.length > 0) {
    lines.push(
      `Flotilla's worker threads over the window, in creation order: ${fs.workerThreads
        .map((t) => `${pct(t.pct)}%`)
        .join(', ')} of a core (the SQLite log store starts its writer, then its search indexer).`,
      '',
    );
  }
  if (fs?.eventLoopPct !== undefined) {
    lines.push(
      `Flotilla's main thread over the window: event loop busy ${pct(fs.eventLoopPct)}% of the time; on a CPU ` +
        `${pct(fs.mainThreadPct)}%, runnable but waiting for a core ${pct(fs.mainRunWaitPct)}%, blocked inside ` +
        `synchronous system calls ${pct(fs.mainBlockedPct)}% (busy minus the other two; ` +
        `${fs.mainVoluntarySwitchesPerSec === undefined ? '?' : int(fs.mainVoluntarySwitchesPerSec)} voluntary context ` +
        'switches/s), from the thread’s scheduler counters and event-loop utilization.',
      '',
    );
  }
  if (i.index) {
    const x = i.index;
    lines.push(
      `Search index during the Flotilla row (sampled every 100 ms, ${x.samples} samples): backlog (stored but not yet ` +
        `indexed) max ${int(x.maxBacklogEntries)} entries (${sec(x.maxBacklogSeconds)} s of ingestion), mean ` +
        `${int(x.meanBacklogEntries)}; the index took in ${int(x.indexedPerSec)} entries/s; after ingestion stopped ` +
        `it ${x.caughtUp ? `caught up in ${sec(x.catchUpSeconds)} s` : `had not caught up after ${sec(x.catchUpSeconds)} s`}.`,
      '',
    );
  }
  if (i.probe) {
    const p = i.probe;
    lines.push(
      `Findability probe during the Flotilla row: every ${s.probeIntervalMs} ms one entry with a unique marker ` +
        `went through Log on the first part (besides its regular call), then GetRobotPartLogs(filter = marker) as ` +
        `the owner, every 50 ms until it was there. ${p.found}/${p.sent} found (${p.notFound} not found in time, ` +
        `${p.failures} failed calls); Log sent → findable p50 ${ms(p.findable.p50)} ms, max ${ms(p.findable.max)} ms ` +
        `(the Log call alone p50 ${ms(p.logCall.p50)} ms); at most ${p.pollsMax} queries per marker. Each was ` +
        `queried again ${s.recheckAfterMs / 1000} s after it was found, when it was no longer among the part’s newest ` +
        `entries: ${p.recheckFound}/${p.rechecked} found, query p50 ${ms(p.recheckQuery.p50)} ms, max ${ms(p.recheckQuery.max)} ms.`,
      '',
    );
  }

  lines.push('## 2. GetRobotPartLogs on one part with many entries', '');
  if (r.fill) {
    const f = r.fill;
    lines.push(
      `The part was filled through Log: ${int(f.partEntries)} entries${f.complete ? '' : ' (**incomplete**)'} in ` +
        `${s.fillBatch}-entry calls, ${s.fillInFlight} in flight, in ${sec(f.seconds)} s (${int(f.entriesPerSec)} entries/s; ` +
        `server CPU ${pct(f.server?.cpuPct)}%, main thread ${pct(f.server?.mainThreadPct)}%, worker threads ` +
        `${pct(f.server?.workerThreadsPct)}%, load ${pct(f.clientCpuPct)}%). Index backlog reached ${int(f.maxBacklogEntries)} ` +
        `entries; the index ${f.caughtUp ? `caught up ${sec(f.catchUpSeconds)} s after the fill ended` : `had not caught up ${sec(f.catchUpSeconds)} s after the fill`}, ` +
        'and the queries below ran after that. ' +
        `While the fill ran, GetRobotPartLogs(filter "checksum mismatch") on that part, one every ${f.queryEveryMs} ms, ` +
        `took p50 ${ms(f.queriesDuring.latency.p50)} ms, p99 ${ms(f.queriesDuring.latency.p99)} ms, max ` +
        `${ms(f.queriesDuring.latency.max)} ms (${f.queriesDuring.calls} calls, ${f.queriesDuring.failures} failed). ` +
        'Every filled entry carries a message from the same generator: 1 in 10 holds ' +
        '"heartbeat", 1 in 10,000 "checksum mismatch", none "quantum flux capacitor".',
      '',
    );
  }
  lines.push(
    `Sequential calls, one in flight, native gRPC (h2c) with a pre-encoded request on one connection, as the owner; ` +
      `${s.queryWarmup} warm-up calls then ${s.querySamples} measured per kind; no limit given (so 100 per page). ` +
      'Every reply is decoded off the clock and checked: the expected number of entries, each matching the filter.',
    '',
    '| query | filter | entries per reply | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/call | server CPU % | load CPU % | other CPU % | failed / wrong |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const q of r.queries) {
    lines.push(
      `| ${q.name} | ${q.filter === undefined ? '–' : `"${q.filter}"`} | ${q.expect} | ${ms(q.latency.p50)} | ${ms(q.latency.p90)} | ` +
        `${ms(q.latency.p99)} | ${ms(q.latency.max)} | ${q.serverMsPerCall === undefined ? '–' : ms(q.serverMsPerCall)} | ` +
        `${pct(q.server?.cpuPct)} | ${pct(q.clientCpuPct)} | ${pct(q.otherCpuPct)} | ${q.failures} / ${q.wrongReplies} |`,
    );
  }
  lines.push('');

  lines.push('## 3. Live tails', '');
  if (r.tails) {
    const t = r.tails;
    lines.push(
      `${t.tails} TailRobotPartLogs streams (errors_only false) on one part over ${s.tailConnections} h2c connections, ` +
        `all open (first, empty message received) after ${ms(t.openMs)} ms. Then ${t.pushes} Log calls of ` +
        `${s.tailEntriesPerPush} entries, one every ${s.tailIntervalMs} ms, from the same process; each entry carries ` +
        'its send time, and latency is arrival of the message at a tail minus that time (one clock).',
      '',
      '| deliveries | p50 ms | p90 ms | p99 ms | max ms | entries per tail (min–max) of pushed | tails with all | duplicates | ended early | Log push p50 / p99 ms | server CPU % | main thread % | load CPU % | other CPU % |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${int(t.deliveries)} | ${ms(t.latency.p50)} | ${ms(t.latency.p90)} | ${ms(t.latency.p99)} | ${ms(t.latency.max)} | ` +
        `${t.receivedMin}–${t.receivedMax} of ${t.entriesPushed} | ${t.tailsComplete}/${t.tails} | ${t.duplicates} | ${t.endedEarly} | ` +
        `${ms(t.pushLatency.p50)} / ${ms(t.pushLatency.p99)} | ${pct(t.server?.cpuPct)} | ${pct(t.server?.mainThreadPct)} | ${pct(t.clientCpuPct)} | ${pct(t.otherCpuPct)} |`,
      '',
    );
  }

  if (r.explanations.length > 0) {
    lines.push('## Where the time goes (missed targets)', '', ...r.explanations.map((x) => `- ${x}`), '');
  }
  if (r.profiles.length > 0) {
    lines.push('## Server main-thread CPU profile (self time, by where the code lives)', '');
    for (const p of r.profiles) {
      lines.push(
        `${p.phase} (\`${p.file}\`): ${p.top.map((t) => `${t.what} ${t.pct.toFixed(1)}%`).join(', ')}.`,
        '',
      );
    }
  }
  lines.push(...closingLines(r, 'no failed calls, every check passed.'));
  return lines.join('\n');
}
