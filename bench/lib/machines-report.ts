/*
 * The machines benchmark's report (machines: bench/reports/latest.md and latest.json): the
 * seeded fleets, every row, the targets with the ratios they are judged by, the capacity steps,
 * and for each missed target where the server's main thread spent its time.
 */
import type { SeedReport } from './fleet-seed.js';
import type { ProfileSummary } from './logs-profile.js';
import {
  BOOT_IN_FLIGHT,
  CALLS,
  MACHINE_CALLS,
  TARGETS,
  type Call,
  type CapacityStep,
  type FleetKey,
  type MachineRates,
  type RowResult,
  type ServerWindow,
  type TargetKey,
} from './machines-types.js';
import { closingLines, environmentParagraph, int, ms, pct } from './report.js';
import type { RunEnvironment } from './run-info.js';

export interface FleetSummary extends SeedReport {
  /** The server's start on the seeded database, ms. */
  restartMs: number;
  /** Sampled machines checked through the API after the restart, ms. */
  verifyMs: number;
  /** Row machines logged in (Authenticate with the part secret) and how long that took, ms. */
  authParts: number;
  authMs: number;
  /** The row machines booted before the rows (each fetched its config once: the cold path), ms. */
  bootParts: number;
  bootMs: number;
  /** The server's CPU with no calls at all, sampled for 2 s after seeding (background work). */
  resting: ServerWindow | undefined;
}

export interface MarkerResult {
  found: boolean;
  /** From the first GetRobotPartLogs until the reply held the entry, ms. */
  ms: number;
  polls: number;
  lastQueryMs: number;
  /** Log entries stored on this server between the marker and the search (about). */
  entriesAfter: number;
  /** Of those, on the marker's own part. */
  entriesAfterOnPart: number;
  error?: string;
}

export interface TargetCheck {
  id: string;
  what: string;
  goal: string;
  measured: string;
  /** undefined: not measured (a row missing or failed). */
  met: boolean | undefined;
  /** By how much it was missed, in words. */
  missedBy?: string;
  /** The row whose server time explains a miss (profiled). */
  profileRow?: string;
}

export interface ProfileRecord {
  /** The targets it explains. */
  targets: string[];
  label: string;
  seconds: number;
  callsPerSec: number;
  summary: ProfileSummary;
  file?: string;
}

/** Before the capacity steps, the server's CPU with no calls must fall to this (% of a core)... */
export const SETTLED_CPU_PCT = 10;
/** ...within this many seconds (else the steps start anyway, and the report says at what CPU). */
export const SETTLE_MAX_S = 180;

export interface CapacitySummary {
  rates: MachineRates;
  perConnection: number;
  p99LimitMs: number;
  warmupSeconds: number;
  durationSeconds: number;
  steps: CapacityStep[];
  /** The most machines that passed (0: none did). */
  sustained: number;
  /** Why the steps stopped. */
  stopped: string;
  /** Machines logged in for the steps, and how long that took, ms. */
  authParts: number;
  authMs: number;
  /**
   * How long the 1M server was left to finish its background work (the search index catching
   * up with the Log rows) before the first step, and its CPU % over the last second of that.
   */
  settleMs: number;
  settledCpuPct: number;
}

export interface MachinesReport {
  date: string;
  environment: RunEnvironment;
  settings: {
    quick: boolean;
    placement: string;
    warmupSeconds: number;
    durationSeconds: number;
    inFlight: number[];
    connections: number;
    logBatch: number;
    rowSample: number;
    perLocation: number;
    profileSeconds: number;
  };
  fleets: Record<FleetKey, FleetSummary>;
  rows: RowResult[];
  marker: Partial<Record<FleetKey, MarkerResult>>;
  capacity: CapacitySummary | undefined;
  targets: TargetCheck[];
  profiles: ProfileRecord[];
  baselineCounters: { served: number; rejected: number; logEntries: number } | undefined;
  ok: boolean;
  failures: string[];
  warnings: string[];
  wallSeconds: number;
}

export const rowLabel = (r: { call: Call; target: TargetKey; inFlight: number }): string =>
  `${CALLS[r.call].name} (${CALLS[r.call].wire}) ×${r.inFlight} on ${TARGETS[r.target]}`;

const find = (rows: RowResult[], call: Call, target: TargetKey, inFlight: number) =>
  rows.find((r) => r.call === call && r.target === target && r.inFlight === inFlight && r.calls > 0);

const x = (n: number) => `${n.toFixed(2)}×`;

/** "short by 35% (3,250 of 5,000)"-style words for a rate below its goal. */
const shortBy = (got: number, goal: number, unit: string) =>
  `${Math.round((1 - got / goal) * 100)}% short: ${int(got)} of ${int(goal)} ${unit}`;

export interface TargetGoals {
  configPerSec: number;
  configVsFramework: number;
  restartPerSec: number;
  logEntriesPerSec: number;
  partVsPlain: number;
  scaleLatency: number;
  machines: number;
}

export const GOALS: TargetGoals = {
  configPerSec: 5000,
  configVsFramework: 2,
  restartPerSec: 8000,
  logEntriesPerSec: 50_000,
  partVsPlain: 2,
  scaleLatency: 1.2,
  machines: 10_000,
};

/** The issue's targets, judged on this run's rows (throughput on the 1M-machine fleet). */
export function evaluateTargets(
  rows: RowResult[],
  marker: Partial<Record<FleetKey, MarkerResult>>,
  capacity: CapacitySummary | undefined,
  loaded: number,
  g: TargetGoals = GOALS,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rate = (id: string, what: string, call: Call, goal: number, unit: string, entries = false) => {
    const r = find(rows, call, 'large', loaded);
    const got = r ? (entries ? (r.entriesPerSec ?? 0) : r.callsPerSec) : undefined;
    checks.push({
      id,
      what,
      goal: `≥ ${int(goal)} ${unit}`,
      measured: got === undefined ? 'not measured' : `${int(got)} ${unit} (row ${r?.id})`,
      met: got === undefined ? undefined : got >= goal,
      ...(got !== undefined && got < goal ? { missedBy: shortBy(got, goal, unit), profileRow: r?.id } : {}),
    });
  };
  const ratio = (id: string, what: string, call: Call, base: TargetKey, goal: number) => {
    const r = find(rows, call, 'large', loaded);
    const b = find(rows, call, base, loaded);
    const got = r && b && b.callsPerSec > 0 ? r.callsPerSec / b.callsPerSec : undefined;
    checks.push({
      id,
      what,
      goal: `≥ ${x(goal)} ${TARGETS[base]}`,
      measured:
        got === undefined
          ? 'not measured'
          : `${x(got)} (row ${r?.id} ${int(r?.callsPerSec ?? 0)}/s ÷ row ${b?.id} ${int(b?.callsPerSec ?? 0)}/s)`,
      met: got === undefined ? undefined : got >= goal,
      ...(got !== undefined && got < goal
        ? {
            missedBy: `${Math.round((1 - got / goal) * 100)}% short: ${x(got)} of ${x(goal)}`,
            profileRow: r?.id,
          }
        : {}),
    });
  };
  rate('config-rate', 'Config calls/s (1M fleet)', 'config', g.configPerSec, 'calls/s');
  ratio('config-vs-framework', 'Config vs the bare framework', 'config', 'connect-pre', g.configVsFramework);
  rate('restart-rate', 'NeedsRestart calls/s (1M fleet)', 'needsRestart', g.restartPerSec, 'calls/s');
  rate('log-rate', 'Log entries stored/s (1M fleet)', 'log', g.logEntriesPerSec, 'entries/s', true);
  const markers = (['small', 'large'] as const).map((k) => marker[k]).filter((m) => m !== undefined);
  checks.push({
    id: 'log-search',
    what: 'A marker entry is still found by GetRobotPartLogs(filter) after the Log rows',
    goal: 'found on both fleets',
    measured:
      markers.length === 0
        ? 'not measured'
        : (['small', 'large'] as const)
            .map((k) => {
              const m = marker[k];
              if (!m) return `${k}: not run`;
              return (
                `${k === 'small' ? '1k' : '1M'}: ${m.found ? `found in ${ms(m.ms)} ms (${m.polls} polls)` : 'NOT found'} ` +
                `behind ${int(m.entriesAfterOnPart)} newer entries on its part, ${int(m.entriesAfter + m.entriesAfterOnPart)} on the server`
              );
            })
            .join('; '),
    met: markers.length === 0 ? undefined : markers.length === 2 && markers.every((m) => m.found),
  });
  ratio(
    'part-vs-plain',
    'GetRobotPart (gRPC-web) vs a plain connect-node server',
    'getRobotPartWeb',
    'connect-reencode',
    g.partVsPlain,
  );
  for (const call of Object.keys(CALLS) as Call[]) {
    const parts: string[] = [];
    let worst = 0;
    let worstRow: string | undefined;
    let measured = true;
    for (const inFlight of [loaded, 1]) {
      const s = find(rows, call, 'small', inFlight);
      const l = find(rows, call, 'large', inFlight);
      if (!s || !l || s.latency.p50 <= 0 || s.latency.p99 <= 0) {
        measured = false;
        continue;
      }
      const p50 = l.latency.p50 / s.latency.p50;
      const p99 = l.latency.p99 / s.latency.p99;
      parts.push(`×${inFlight}: p50 ${x(p50)}, p99 ${x(p99)}`);
      if (Math.max(p50, p99) > worst) {
        worst = Math.max(p50, p99);
        worstRow = l.id;
      }
    }
    checks.push({
      id: `scale-${call}`,
      what: `${CALLS[call].name} (${CALLS[call].wire}) latency at 1M vs 1k machines`,
      goal: `p50 and p99 ≤ ${x(g.scaleLatency)}`,
      measured: parts.length === 0 ? 'not measured' : parts.join('; '),
      met: !measured ? undefined : worst <= g.scaleLatency,
      ...(measured && worst > g.scaleLatency
        ? {
            missedBy: `worst ${x(worst)}, ${Math.round((worst / g.scaleLatency - 1) * 100)}% over`,
            profileRow: worstRow,
          }
        : {}),
    });
  }
  const sustained = capacity?.sustained;
  checks.push({
    id: 'machines',
    what: 'Machines one server sustains (p99 < 100 ms for every call, no errors)',
    goal: `≥ ${int(g.machines)} machines`,
    measured:
      capacity === undefined ? 'not measured' : `${int(sustained ?? 0)} machines (${capacity.stopped})`,
    met: capacity === undefined ? undefined : (sustained ?? 0) >= g.machines,
    ...(capacity !== undefined && (sustained ?? 0) < g.machines
      ? {
          missedBy:
            (sustained ?? 0) === 0
              ? `none of the steps passed (the first had ${int(capacity.steps[0]?.machines ?? 0)} machines)`
              : `${Math.round((1 - (sustained ?? 0) / g.machines) * 100)}% short: ${int(sustained ?? 0)} of ${int(g.machines)}`,
          profileRow: 'capacity',
        }
      : {}),
  });
  return checks;
}

// ---- markdown ----

const mb = (bytes: number) => `${int(bytes / 2 ** 20)} MiB`;
const s1 = (msValue: number) => `${(msValue / 1000).toFixed(1)} s`;

function fleetLines(r: MachinesReport): string[] {
  const lines = [
    '## The fleets',
    '',
    '| fleet | machines | locations | clone | of which inserts | template via API | restart | API check | machines logged in | first Config per machine | database | server CPU % at rest (main thread) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [key, f] of Object.entries(r.fleets)) {
    lines.push(
      `| ${key === 'small' ? '1k' : '1M'} | ${int(f.machines)} | ${int(f.locations)} | ${s1(f.cloneMs)} | ` +
        `${s1(f.phasesMs.inserts)} | ${s1(f.templateMs)} | ${s1(f.restartMs)} | ${s1(f.verifyMs)} | ` +
        `${int(f.authParts)} in ${s1(f.authMs)} | ${int(f.bootParts)} in ${s1(f.bootMs)}` +
        `${f.bootMs > 0 ? ` (${int((f.bootParts / f.bootMs) * 1000)}/s)` : ''} | ${mb(f.dbBytes)} | ` +
        `${pct(f.resting?.cpuPct)} (${pct(f.resting?.mainThreadPct)}) |`,
    );
  }
  const large = r.fleets.large;
  lines.push(
    '',
    `Each fleet is one template machine made through the public API (4 fragments: 3 listed by the ` +
      `part, the first of which includes the 4th; the part adds a GPS and a \`fragment_mods\` \`$set\`; ` +
      `11 components, 3 services and 2 local modules once merged), then cloned with better-sqlite3 while ` +
      `the server is stopped: ${Object.entries(large.rowsWritten)
        .map(([t, n]) => `${int(n)} ${t}`)
        .join(', ')} rows for the 1M fleet, ${large.perLocation} machines per location, every part ` +
      `with its own secret row (the template's ciphertext) and history entry. Ids are random but ` +
      `handed out in ascending order, so the B-trees are packed fuller than a fleet grown by the API ` +
      `would leave them. No ANALYZE is run, as in production. Before the rows, each row machine logs ` +
      `in and fetches its config once (${BOOT_IN_FLIGHT} at a time), as a running fleet's machines have: ` +
      `"first Config per machine" is that cold path's rate. "At rest" is each server's CPU over 2 s ` +
      `with no calls, right after seeding: its own background work. During the rows only the server ` +
      `being measured runs; the others are stopped (SIGSTOP), so such work never lands on another ` +
      `server's row.` +
      (large.notCloned.length > 0
        ? ` **Not cloned** (rows pointing at the template): ${large.notCloned.join(', ')}.`
        : ''),
    '',
  );
  return lines;
}

function rowLines(r: MachinesReport): string[] {
  const lines = [
    '## Rows',
    '',
    '| # | call | wire | server | in flight | calls/s | entries/s | p50 ms | p99 ms | vs baseline | server CPU % | main thread % | load CPU % | other CPU % | reply B | errors |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    const base =
      row.call === 'getRobotPartWeb' || row.call === 'getRobotPartJson' ? 'connect-reencode' : 'connect-pre';
    const b = find(r.rows, row.call, base, row.inFlight);
    const vs =
      row.target === 'small' || row.target === 'large'
        ? b && b.callsPerSec > 0
          ? `${x(row.callsPerSec / b.callsPerSec)} of #${b.id}`
          : '–'
        : '';
    const errors = row.errors + row.warmupErrors + (row.checkError ? 1 : 0);
    lines.push(
      `| ${row.id} | ${CALLS[row.call].name} | ${CALLS[row.call].wire} | ${TARGETS[row.target]} | ${row.inFlight} | ` +
        `${int(row.callsPerSec)} | ${row.entriesPerSec === undefined ? '' : int(row.entriesPerSec)} | ` +
        `${ms(row.latency.p50)} | ${ms(row.latency.p99)} | ${vs} | ${pct(row.server?.cpuPct)} | ` +
        `${pct(row.server?.mainThreadPct)} | ${pct(row.clientCpuPct)} | ${pct(row.otherCpuPct)} | ${row.replyBytes} | ` +
        `${errors === 0 ? '0' : `**${errors}**`} |`,
    );
  }
  lines.push(
    '',
    '"vs baseline" is calls/s against connect-node on the same call and in-flight count: with the reply ' +
      'pre-encoded for the machine calls and ListRobots (the framework alone), encoded per call for ' +
      'GetRobotPart (a plain server). CPU % is of one core over the measured window; "main thread" is the ' +
      'server\'s event loop; "other" is the rest of the machine and should be near 0.',
    '',
  );
  const generatorBound = r.rows.filter((row) => row.clientCpuPct >= 90 && (row.server?.cpuPct ?? 100) < 90);
  if (generatorBound.length > 0) {
    lines.push(
      `In rows ${generatorBound.map((row) => `#${row.id}`).join(', ')} the load generator was the limit (its CPU ` +
        "≥ 90% of its core, the server's below 90%): their calls/s understate what that server can do.",
      '',
    );
  }
  return lines;
}

function capacityLines(c: CapacitySummary): string[] {
  const lines = [
    '## Machines per server',
    '',
    `An open loop of simulated machines on the 1M fleet, each its own part with its own token, ` +
      `${c.perConnection} machines to an HTTP/2 connection. Each machine calls Config every ` +
      `${c.rates.configEveryS} s, NeedsRestart every ${c.rates.restartEveryS} s and Log with ` +
      `${c.rates.logEntries} entries every ${c.rates.logEveryS} s (assumed viam-server defaults), each ` +
      `at a random phase, each call moved at random by up to 5% of its period. Before each step, the ` +
      `machines new to it boot: each calls Config once (${BOOT_IN_FLIGHT} at a time, not measured), as ` +
      `viam-server does when it starts, so a step measures a fleet that is up, not a herd fetching ` +
      `its first configs at once. A step passes when ` +
      `p99 < ${c.p99LimitMs} ms for every call type with no error, nothing dropped, and the generator ` +
      `on schedule. Steps: ${c.warmupSeconds} s warm-up + ${c.durationSeconds} s measured; ` +
      `${int(c.authParts)} machines logged in for them in ${s1(c.authMs)}. Before the first step the server was left ${s1(c.settleMs)} to finish the background work the rows left it (the search index catching up with the Log rows), until its CPU with no calls was ${Math.round(c.settledCpuPct)}% (at most ${SETTLED_CPU_PCT}% is waited for, for up to ${SETTLE_MAX_S} s).`,
    '',
    '| machines | booted first | connections | due/s | sent/s | Config p50 / p99 ms | NeedsRestart p50 / p99 ms | Log p50 / p99 ms | errors | dropped | generator late p99 ms | server CPU % | main thread % | log writer % | search index % | other threads % | load CPU % | verdict |',
    '|---:|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const s of c.steps) {
    const lat = (call: (typeof MACHINE_CALLS)[number]) =>
      `${ms(s.byCall[call].latency.p50)} / ${ms(s.byCall[call].latency.p99)}`;
    const errors = MACHINE_CALLS.reduce((n, k) => n + s.byCall[k].errors, 0);
    lines.push(
      `| ${int(s.machines)} | ${int(s.booted)} in ${s1(s.bootMs)} | ${s.connections} | ${int(s.scheduledPerSec)} | ${int(s.sentPerSec)} | ${lat('config')} | ` +
        `${lat('needsRestart')} | ${lat('log')} | ${errors} | ${s.droppedAtCap} | ${ms(s.dispatchLag.p99)} | ` +
        `${pct(s.server?.cpuPct)} | ${pct(s.server?.mainThreadPct)} | ${pct(s.server?.writerPct)} | ` +
        `${pct(s.server?.indexerPct)} | ${pct(otherThreadsPct(s.server))} | ${pct(s.clientCpuPct)} | ${s.verdict} |`,
    );
  }
  lines.push(
    '',
    `Sustained: **${int(c.sustained)} machines**; ${c.stopped}.`,
    '',
    'Server CPU by thread (% of one core, from /proc): the main thread runs the event loop (every ' +
      'call, decoding, caches, HTTP/2); the log writer stores Log calls and the last-access rows ' +
      '(its commits wait for fsync); the search index thread keeps the full-text index of log ' +
      'messages up to date; other threads are V8’s garbage-collection and compiler helpers and ' +
      'libuv’s pool. All of them share core 0.',
    '',
  );
  return lines;
}

/** What the server's threads other than the main, writer and indexer threads used, % of a core. */
function otherThreadsPct(w: ServerWindow | undefined): number | undefined {
  if (w?.mainThreadPct === undefined || w.writerPct === undefined || w.indexerPct === undefined)
    return undefined;
  return Math.max(0, w.cpuPct - w.mainThreadPct - w.writerPct - w.indexerPct);
}

function targetLines(r: MachinesReport): string[] {
  const lines = ['## Targets', '', '| target | goal | measured | result |', '|---|---|---|---|'];
  for (const t of r.targets) {
    const result =
      t.met === undefined
        ? 'not measured'
        : t.met
          ? 'met'
          : `**missed**${t.missedBy ? `: ${t.missedBy}` : ''}`;
    lines.push(`| ${t.what} | ${t.goal} | ${t.measured} | ${result} |`);
  }
  lines.push(
    '',
    'Throughput targets are judged on the 1M-machine fleet with the loaded in-flight count; ratios come ' +
      'from rows of this run.',
    '',
  );
  return lines;
}

function profileLines(r: MachinesReport): string[] {
  if (r.profiles.length === 0) return [];
  const lines = [
    '## Where the server spends its time (missed targets)',
    '',
    "CPU profiles of the Flotilla server's main thread, taken in a short repeat of the row after the " +
      'measurements (the profiler costs a little). Shares are of the non-idle samples; self time.',
    '',
  ];
  for (const p of r.profiles) {
    lines.push(
      `### ${p.label}`,
      '',
      `For: ${p.targets.join(', ')}. ${s1(p.seconds * 1000)} profiled at ${int(p.callsPerSec)} calls/s; ` +
        `idle ${Math.round(p.summary.idlePct)}% of the samples.` +
        (p.file ? ` Profile: \`${p.file}\`.` : ''),
      '',
      `By area: ${p.summary.areas
        .filter((a) => a.pct >= 1)
        .map((a) => `${a.what} ${Math.round(a.pct)}%`)
        .join(', ')}.`,
      '',
      '| self % | function (file:line) |',
      '|---:|---|',
      ...p.summary.functions.map((f) => `| ${f.pct.toFixed(1)} | ${f.what.replace(/\|/g, '\\|')} |`),
      '',
    );
  }
  return lines;
}

export function renderMachinesMarkdown(r: MachinesReport): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push(`# Flotilla machines benchmark — ${r.date}`, '');
  lines.push(
    environmentParagraph(r.environment),
    '',
    `Flotilla (SQLite) on two seeded fleets, both running at once, and the baselines, all ${s.placement}. ` +
      `Rows: ${s.warmupSeconds} s warm-up + ${s.durationSeconds} s measured, at ${s.inFlight.join(' and ')} ` +
      `calls in flight, closed loop. Machine calls (Config with agent info, NeedsRestart, Log of ${s.logBatch} ` +
      `entries) go over native gRPC from a raw node:http2 client with pre-encoded requests, ${s.connections} ` +
      `HTTP/2 connections, each call from one of ${int(s.rowSample)} machines drawn at random from the whole ` +
      `fleet with its own token. Owner calls (GetRobotPart, ListRobots of a ${s.perLocation}-machine location) ` +
      `go over HTTP/1.1, one keep-alive connection per call in flight, as the owner's API key. ` +
      `${s.quick ? 'Quick run (--quick): indicative only. ' : ''}Run time ${Math.round(r.wallSeconds)} s.`,
    '',
  );
  lines.push(...targetLines(r));
  lines.push(...fleetLines(r));
  lines.push(...rowLines(r));
  if (r.capacity) lines.push(...capacityLines(r.capacity));
  lines.push(...profileLines(r));
  if (r.baselineCounters) {
    lines.push(
      `Baseline servers: ${int(r.baselineCounters.served)} calls answered, ${r.baselineCounters.rejected} ` +
        `refused for a bad token, ${int(r.baselineCounters.logEntries)} log entries decoded.`,
      '',
    );
  }
  lines.push(
    ...closingLines(r, 'every call succeeded and every checked reply held the right part and config.'),
  );
  return lines.join('\n');
}
