/*
 * "Raw inserts" baseline for the logs benchmark: the same rows Flotilla stores, inserted with
 * better-sqlite3 into Flotilla's own part_logs schema (after all migrations: seq INTEGER PRIMARY
 * KEY AUTOINCREMENT, the foreign key to robot_parts, the (part_id, time_us, seq) index) in a
 * temporary file, WAL, synchronous=FULL, foreign_keys on, 100 rows per transaction, one
 * transaction after another, no RPC and no search index. The file lives in a directory the
 * orchestrator made, and is removed when the run ends. Row values (caller and fields as JSON
 * text) are prepared before the clock starts; only the time is taken per row.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { serveParent } from './ipc.js';
import { nowUs, plainPool } from './logs-entries.js';
import { cpuPercent, cpuSnapshot, machinePercent, machineSnapshot } from './stats.js';

export interface RawInsertResult {
  entries: number;
  transactions: number;
  warmupEntries: number;
  elapsedMs: number;
  entriesPerSec: number;
  cpuPct: number;
  /** The whole machine's CPU over the measured window, % of one core. */
  machinePct: number | undefined;
  /** Per-transaction time (ms), nearest rank. */
  txP50Ms: number;
  txP99Ms: number;
}

/** A bound on the loop besides its time window. */
const MAX_TRANSACTIONS = 2_000_000;

let dir: string | undefined;

function run(payload: unknown): RawInsertResult {
  const { warmupMs, durationMs, parts, batch } = payload as {
    warmupMs: number;
    durationMs: number;
    parts: number;
    batch: number;
  };
  // A directory the orchestrator made (and removes on exit, even if this process is killed).
  dir = (payload as { dir: string }).dir;
  const db = new SQLite(path.join(dir, 'raw.sqlite'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.exec(`
      create table robot_parts (id varchar(64) primary key, last_access varchar(32));
      create table part_logs (
        seq integer primary key autoincrement,
        part_id varchar(64) not null references robot_parts (id) on delete cascade,
        host text not null,
        level varchar(16) not null,
        logger_name text not null,
        message text not null,
        caller text,
        stack text not null,
        fields text not null,
        time_us integer not null default 0
      );
      create index part_logs_part_time on part_logs (part_id, time_us, seq);
    `);
    const partIds = Array.from({ length: parts }, (_, i) => `raw-part-${String(i).padStart(2, '0')}`);
    const addPart = db.prepare('insert into robot_parts (id) values (?)');
    for (const id of partIds) addPart.run(id);
    const pool = plainPool().map((e) => ({ ...e, caller: JSON.stringify(e.caller) }));
    const insert = db.prepare(
      `insert into part_logs (part_id, host, level, time_us, logger_name, message, caller, stack, fields)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let cursor = 0;
    const oneTransaction = db.transaction((partIndex: number) => {
      const partId = partIds[partIndex] as string;
      const host = `rover-${String(partIndex).padStart(2, '0')}.lan`;
      for (let k = 0; k < batch; k++) {
        const e = pool[cursor++ % pool.length] as (typeof pool)[number];
        insert.run(partId, host, e.level, nowUs(), e.loggerName, e.message, e.caller, '', '[]');
      }
    });
    const loop = (ms: number, times: number[] | undefined) => {
      const start = performance.now();
      const end = start + ms;
      let transactions = 0;
      while (performance.now() < end && transactions < MAX_TRANSACTIONS) {
        const t0 = performance.now();
        oneTransaction(transactions % parts);
        times?.push(performance.now() - t0);
        transactions++;
      }
      return { transactions, elapsedMs: performance.now() - start };
    };
    const warm = loop(warmupMs, undefined);
    const times: number[] = [];
    const m0 = machineSnapshot();
    const cpu0 = cpuSnapshot();
    const measured = loop(durationMs, times);
    const cpu1 = cpuSnapshot();
    const m1 = machineSnapshot();
    times.sort((a, b) => a - b);
    const at = (p: number) =>
      times[Math.min(times.length - 1, Math.max(0, Math.ceil((p / 100) * times.length) - 1))] ?? 0;
    const entries = measured.transactions * batch;
    return {
      entries,
      transactions: measured.transactions,
      warmupEntries: warm.transactions * batch,
      elapsedMs: measured.elapsedMs,
      entriesPerSec: entries / (measured.elapsedMs / 1000),
      cpuPct: cpuPercent(cpu0, cpu1),
      machinePct: m0 && m1 ? machinePercent(m0, m1) : undefined,
      txP50Ms: at(50),
      txP99Ms: at(99),
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

serveParent('raw-insert baseline', { run, stop: () => ({}) }, () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
