import { METHODS, PROTOCOLS, type RowResult } from './types.js';

export interface BenchReport {
  date: string;
  environment: {
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
  };
  settings: {
    quick: boolean;
    database: 'sqlite';
    concurrency: number;
    warmupSeconds: number;
    durationSeconds: number;
    unloadedWarmupSeconds: number;
    unloadedDurationSeconds: number;
  };
  rows: RowResult[];
  /** The baseline server's own counters at the end: calls answered, calls refused for a bad token. */
  baselineServer: { served: number; rejected: number } | undefined;
  ok: boolean;
  failures: string[];
  /** Signs the numbers are not trustworthy (a busy machine); they do not fail the run. */
  warnings: string[];
  wallSeconds: number;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** Three significant digits, never exponent notation. */
const ms = (n: number) =>
  n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(n >= 1 ? 2 : 3);
const pct = (n: number | undefined) => (n === undefined ? '–' : String(Math.round(n)));

function ratioCell(row: RowResult): string {
  if (row.target === 'baseline') return '1 (baseline)';
  if (row.ratio === undefined || row.baselineId === undefined) return '–';
  return `**${row.ratio.toFixed(2)}×** of #${row.baselineId}`;
}

export function renderMarkdown(r: BenchReport): string {
  const e = r.environment;
  const s = r.settings;
  const lines: string[] = [];
  lines.push(`# Flotilla benchmark — ${r.date}`, '');
  lines.push(
    `Node ${e.node} on ${e.platform}, ${e.cpuCount} × ${e.cpuModel}, ${e.memoryGiB} GiB; ` +
      `commit ${e.commit}${e.srcDirty ? ' (with uncommitted changes under src/)' : ''}; ` +
      `${Object.entries(e.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; loadavg at start ${e.loadavgAtStart.map((n) => n.toFixed(2)).join(' ')}` +
      (e.busyBeforeStartPct === undefined
        ? '.'
        : `, machine ${Math.round(e.busyBeforeStartPct)}% of a core busy just before the run.`),
    '',
    `Flotilla on ${s.database === 'sqlite' ? 'SQLite' : s.database} in a fresh data directory; baseline: a bare ` +
      `connect-node server answering GetOrganization with the same reply bytes after a constant bearer ` +
      `comparison. Servers and load generator are separate processes on 127.0.0.1, sharing all cores. ` +
      `Each row: ${s.warmupSeconds} s warm-up + ${s.durationSeconds} s measured at ${s.concurrency} in flight; ` +
      `the 1-in-flight rows ${s.unloadedWarmupSeconds} s + ${s.unloadedDurationSeconds} s. ` +
      `${s.quick ? 'Quick run (--quick): indicative only. ' : ''}Run time ${Math.round(r.wallSeconds)} s.`,
    '',
  );
  lines.push(
    '| # | server | method | protocol | in flight | calls/s | p50 ms | p99 ms | ratio to baseline (calls/s) | server CPU % | load CPU % | other CPU % | reply B | errors |',
    '|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  );
  for (const row of r.rows) {
    const errors = row.errors + row.warmupErrors;
    lines.push(
      `| ${row.id} | ${row.target === 'baseline' ? 'baseline' : 'Flotilla'} | ${METHODS[row.method]} | ` +
        `${PROTOCOLS[row.protocol]} | ${row.concurrency} | ${int(row.callsPerSec)} | ${ms(row.p50Ms)} | ` +
        `${ms(row.p99Ms)} | ${ratioCell(row)} | ${pct(row.serverCpuPct)} | ${pct(row.clientCpuPct)} | ` +
        `${pct(row.otherCpuPct)} | ${row.replyBytes} | ${errors === 0 ? '0' : `**${errors}**`} |`,
    );
  }
  lines.push('');
  lines.push(
    'The ratio is Flotilla calls/s divided by the baseline row on the same protocol at the same number of ' +
      'calls in flight (ListLocations and GetLocation are compared with the baseline GetOrganization, ' +
      'which has no counterpart for them). With 1 call in flight it is also the baseline latency ' +
      'divided by Flotilla latency. CPU % is of one core (100 = one core busy) over the measured ' +
      'window; "other" is the rest of the machine (the idle second server, the kernel, anything else ' +
      'running), which should be near 0. With many calls in flight the latency is mostly queueing (about in-flight ÷ calls/s).',
    '',
  );
  if (r.baselineServer) {
    lines.push(
      `Baseline server counters: ${int(r.baselineServer.served)} calls answered, ` +
        `${r.baselineServer.rejected} refused for a bad token.`,
      '',
    );
  }
  if (r.warnings.length > 0) lines.push('**Warnings:**', '', ...r.warnings.map((w) => `- ${w}`), '');
  if (r.ok) lines.push('Result: **ok** — every row ran without errors.');
  else lines.push('Result: **FAILED**', '', ...r.failures.map((f) => `- ${f}`));
  lines.push('');
  return lines.join('\n');
}
