/*
 * The RPC benchmark's report (latest.json, latest.md), and what both benchmarks' reports share:
 * number formats, the environment paragraph, the closing lines, and how the files are written.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunEnvironment } from './run-info.js';
import { METHODS, PROTOCOLS, type RowResult } from './types.js';

export interface BenchReport {
  date: string;
  environment: RunEnvironment;
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

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
/** Three significant digits, never exponent notation. */
export const ms = (n: number): string =>
  n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(n >= 1 ? 2 : 3);
export const pct = (n: number | undefined): string => (n === undefined ? '–' : String(Math.round(n)));

/**
 * The paragraph under a report's title: machine, Node, commit (then `codeNote`), package
 * versions, and the load when the run started.
 */
export function environmentParagraph(e: RunEnvironment, codeNote = ''): string {
  return (
    `Node ${e.node} on ${e.platform}, ${e.cpuCount} × ${e.cpuModel}, ${e.memoryGiB} GiB; ` +
    `commit ${e.commit}${e.srcDirty ? ' (with uncommitted changes under src/)' : ''}${codeNote}; ` +
    `${Object.entries(e.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; loadavg at start ${e.loadavgAtStart.map((n) => n.toFixed(2)).join(' ')}` +
    (e.busyBeforeStartPct === undefined
      ? '.'
      : `, machine ${Math.round(e.busyBeforeStartPct)}% of a core busy just before the run.`)
  );
}

/** A report's last lines: its warnings, then the result (`okText` says what ok means). */
export function closingLines(
  r: { ok: boolean; failures: string[]; warnings: string[] },
  okText: string,
): string[] {
  const lines: string[] = [];
  if (r.warnings.length > 0) lines.push('**Warnings:**', '', ...r.warnings.map((w) => `- ${w}`), '');
  if (r.ok) lines.push(`Result: **ok** — ${okText}`);
  else lines.push('Result: **FAILED**', '', ...r.failures.map((f) => `- ${f}`));
  lines.push('');
  return lines;
}

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
    environmentParagraph(e),
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
  lines.push(...closingLines(r, 'every row ran without errors.'));
  return lines.join('\n');
}

/** Five significant digits are plenty for measured values, and keep the committed JSON readable. */
const roundNumbers = (_key: string, value: unknown): unknown =>
  typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(5)) : value;

/** The reports are committed, so they are written as `prettier --check` wants them (if prettier is there). */
async function formatted(text: string, file: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    return await prettier.format(text, { ...(await prettier.resolveConfig(file)), filepath: file });
  } catch {
    return text;
  }
}

const reportsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'reports');

/** Writes bench/reports/`name`.md and `name`.json; returns the markdown as written. */
export async function writeReport(name: string, report: object, markdown: string): Promise<string> {
  mkdirSync(reportsDir, { recursive: true });
  const mdFile = path.join(reportsDir, `${name}.md`);
  const jsonFile = path.join(reportsDir, `${name}.json`);
  const md = await formatted(markdown, mdFile);
  writeFileSync(mdFile, md);
  writeFileSync(jsonFile, await formatted(`${JSON.stringify(report, roundNumbers, 2)}\n`, jsonFile));
  return md;
}
