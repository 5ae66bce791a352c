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
 * `firstSeq`, `firstSeq + 1`, ...
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

let pending: (AppendRequest | AccessRequest)[] = [];
let flushQueued = false;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function storeCall(call: AppendRequest | AccessRequest): AppendOutcome {
  if (call.type === 'access') {
    for (const [partId, at, agentInfo] of call.rows) recordAccess.run(at, agentInfo, partId);
    return { id: call.id, stored: true, firstSeq: 0 };
  }
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

function flush(): void {
  flushQueued = false;
  const calls = pending;
  pending = [];
  if (calls.length === 0) return;
  let outcomes: AppendOutcome[] = [];
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
    commit.run();
  } catch (error) {
    if (db.inTransaction) rollback.run();
    outcomes = calls.map((call) => ({ id: call.id, error: messageOf(error) }));
  }
  port.postMessage({ type: 'flushed', outcomes } satisfies WriterMessage);
}

port.on('message', (message: AppendRequest | AccessRequest | { type: 'stop' }) => {
  if (message.type === 'append' || message.type === 'access') {
    pending.push(message);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
    return;
  }
  flush();
  db.close();
  port.close();
});
