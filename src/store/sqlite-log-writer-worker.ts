import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { isForeignKeyViolation } from './db.js';
import { lowerThisThreadsPriority } from './thread-priority.js';
import {
  ROW_FIELDS,
  type AccessRequest,
  type AppendOutcome,
  type AppendRequest,
  type WriterMessage,
  type WriterWorkerData,
} from './sqlite-log-writer-protocol.js';

/*
 * The thread that writes machine logs on SQLite, so that neither the inserts nor the commit's
 * fsync ever hold the server's event loop. Group commit: every call that arrived while the
 * previous commit ran goes into the next transaction, each in a savepoint, so each call is
 * stored whole or not at all and one call's failure leaves the others stored. AUTOINCREMENT
 * seqs are consecutive within a call (no other writer can interleave), so a call's entries are
 * `firstSeq`, `firstSeq + 1`, ... Machines' last-access rows come in batches and are written a
 * slice per commit, after the Log calls waiting, so that a big batch never holds them up.
 */
const data = workerData as WriterWorkerData;
if (!parentPort) throw new Error('the log writer runs in a worker thread');
const port: MessagePort = parentPort;

// Below the event loop, above the search indexer: when the CPU is short, the calls the event
// loop answers without touching the writer (Config, NeedsRestart) go first, and a Log call waits
// a little longer for its commit.
lowerThisThreadsPriority(5);
const db = new SQLite(data.mainFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
// Waiting for another connection's write lock blocks only this thread.
db.pragma('busy_timeout = 10000');

const begin = db.prepare('begin immediate');
const commit = db.prepare('commit');
const rollback = db.prepare('rollback');
const savepoint = db.prepare('savepoint log_call');
const release = db.prepare('release log_call');
const rollbackTo = db.prepare('rollback to log_call');
const partExists = db.prepare('select 1 from robot_parts where id = ?').pluck();
const recordAccess = db.prepare(
  'update robot_parts set last_access = ?, agent_info = coalesce(?, agent_info) where id = ?',
);
const insert = db.prepare(
  `insert into part_logs (part_id, host, level, time_us, logger_name, message, caller, stack, fields)
   values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);

/** Log calls waiting for the next commit. */
let appends: AppendRequest[] = [];
/** Last-access batches waiting, oldest first, and how many rows of the first are written. */
const accessQueue: AccessRequest[] = [];
let accessWritten = 0;
let flushQueued = false;

/**
 * Last-access rows written per commit, at most. A flush brings thousands (a 2 s window of a big
 * fleet), each an update of a random part row; written all in one transaction, the Log calls
 * committed with them would wait for all of it.
 */
const ACCESS_ROWS_PER_COMMIT = 250;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function storeCall(call: AppendRequest): AppendOutcome {
  const v = call.values;
  // The foreign key finds a part gone (one insert fails, the call's savepoint undoes the rest);
  // a call with no entries looks.
  if (v.length === 0)
    return partExists.get(call.partId) === undefined
      ? { id: call.id, stored: false }
      : { id: call.id, stored: true, firstSeq: 0 };
  let firstSeq = 0;
  for (let i = 0; i < v.length; i += ROW_FIELDS) {
    const info = insert.run(
      call.partId,
      v[i],
      v[i + 1],
      v[i + 2],
      v[i + 3],
      v[i + 4],
      v[i + 5],
      v[i + 6],
      v[i + 7],
    );
    if (i === 0) firstSeq = Number(info.lastInsertRowid);
  }
  return { id: call.id, stored: true, firstSeq };
}

/** Writes the next slice of last-access rows; the batches it finished. */
function storeAccessSlice(): AccessRequest[] {
  const finished: AccessRequest[] = [];
  let budget = ACCESS_ROWS_PER_COMMIT;
  let at = 0;
  let written = accessWritten;
  while (budget > 0 && at < accessQueue.length) {
    const batch = accessQueue[at]!;
    const end = Math.min(batch.rows.length, written + budget);
    for (let i = written; i < end; i++) {
      const [partId, time, agentInfo] = batch.rows[i]!;
      recordAccess.run(time, agentInfo, partId);
    }
    budget -= end - written;
    if (end < batch.rows.length) {
      written = end;
      break;
    }
    finished.push(batch);
    at++;
    written = 0;
  }
  // Taken off the queue only once committed (see flush).
  sliceEnd = { at, written };
  return finished;
}
/** Where the slice just written ends: batches wholly written, rows of the next one. */
let sliceEnd = { at: 0, written: 0 };

/** One commit: every Log call waiting, each in a savepoint, and a slice of last-access rows. */
function flush(): void {
  flushQueued = false;
  const calls = appends;
  appends = [];
  if (calls.length === 0 && accessQueue.length === 0) return;
  let outcomes: AppendOutcome[] = [];
  let finished: AccessRequest[] = [];
  try {
    begin.run();
    for (const call of calls) {
      savepoint.run();
      try {
        outcomes.push(storeCall(call));
      } catch (error) {
        rollbackTo.run();
        outcomes.push(
          isForeignKeyViolation(error)
            ? { id: call.id, stored: false }
            : { id: call.id, error: messageOf(error) },
        );
      }
      release.run();
    }
    finished = storeAccessSlice();
    commit.run();
    accessQueue.splice(0, sliceEnd.at);
    accessWritten = sliceEnd.written;
    for (const batch of finished) outcomes.push({ id: batch.id, stored: true, firstSeq: 0 });
  } catch (error) {
    if (db.inTransaction) rollback.run();
    // Nothing of this commit is stored: its calls fail, and so do the access batches waiting
    // (their rows are dropped; the next calls of those parts record them again), so that a
    // failing database is not retried in a loop.
    const failed = accessQueue.splice(0);
    accessWritten = 0;
    outcomes = [...calls, ...failed].map((call) => ({ id: call.id, error: messageOf(error) }));
  }
  port.postMessage({ type: 'flushed', outcomes } satisfies WriterMessage);
  if (accessQueue.length > 0) schedule();
}

function schedule(): void {
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(flush);
}

port.on('message', (message: AppendRequest | AccessRequest | { type: 'stop' }) => {
  if (message.type === 'append') {
    appends.push(message);
    schedule();
    return;
  }
  if (message.type === 'access') {
    accessQueue.push(message);
    schedule();
    return;
  }
  // Everything sent before the stop is written first.
  while (appends.length > 0 || accessQueue.length > 0) flush();
  db.close();
  port.close();
});
