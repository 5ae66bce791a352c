import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Process CPU time (user + system) and wall time, both in milliseconds. */
export interface CpuSnapshot {
  cpuMs: number;
  wallMs: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  return { cpuMs: (usage.user + usage.system) / 1000, wallMs: performance.now() };
}

/** CPU used between two snapshots of one process, as a percentage of one core. */
export const cpuPercent = (from: CpuSnapshot, to: CpuSnapshot): number =>
  to.wallMs > from.wallMs ? ((to.cpuMs - from.cpuMs) / (to.wallMs - from.wallMs)) * 100 : 0;

/** Nearest-rank percentile of an ascending array; 0 when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarizeLatencies(latenciesMs: number[]): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] ?? 0) : 0,
    mean: sorted.length ? sum / sorted.length : 0,
  };
}

/** Whole-machine CPU time from /proc/stat, in clock ticks (Linux only). */
export interface MachineSnapshot {
  busy: number;
  total: number;
  cores: number;
}

export function machineSnapshot(): MachineSnapshot | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait, cores: cpus().length };
  } catch {
    return undefined;
  }
}

/** Machine CPU busy between two snapshots, as a percentage of one core (2 busy cores = 200). */
export const machinePercent = (from: MachineSnapshot, to: MachineSnapshot): number =>
  to.total > from.total ? ((to.busy - from.busy) / (to.total - from.total)) * to.cores * 100 : 0;

/** How busy the whole machine is now: a `sampleMs` sample of /proc/stat, % of one core. */
export async function machineBusyPct(sampleMs: number): Promise<number | undefined> {
  const from = machineSnapshot();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const to = machineSnapshot();
  return from && to ? machinePercent(from, to) : undefined;
}

/** Above this much CPU (% of one core) used by other processes, a report warns. */
export const OTHER_CPU_WARN_PCT = 25;
