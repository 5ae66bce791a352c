import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { enforceRetention } from './log-retention.js';
import type { LogRetention } from './part-log-store.js';
import { SearchIndexMaintainer } from './sqlite-log-search.js';
import { lowerThisThreadsPriority } from './thread-priority.js';

/** What the store hands the worker. */
export interface SearchWorkerData {
  mainFile: string;
  searchFile: string;
  retention: LogRetention;
  /** Entries indexed per transaction. */
  batchSize: number;
  /** How long to wait when there is nothing to index, in milliseconds. */
  idleMs: number;
}

/** What the worker tells the store. */
export type SearchWorkerMessage = { type: 'error'; message: string };

/*
 * The worker thread behind SQLite log search: indexes new entries in batches and runs the
 * retention passes, on connections of its own, so neither costs the server's event loop.
 */
const data = workerData as SearchWorkerData;
if (!parentPort) throw new Error('the log search worker runs in a worker thread');
const port: MessagePort = parentPort;

// Indexing yields the CPU to the server's event loop and the writer: under load the index runs
// further behind (reads scan what it has not reached), and catches up when load drops.
lowerThisThreadsPriority(10);

const main = new SQLite(data.mainFile);
main.pragma('busy_timeout = 5000');
const search = new SQLite(data.searchFile);
search.pragma('journal_mode = WAL');
search.pragma('synchronous = NORMAL');
search.pragma('busy_timeout = 5000');
const maintainer = new SearchIndexMaintainer(main, search);

let stopping = false;
let indexTimer: NodeJS.Timeout | undefined;
let retentionTimer: NodeJS.Timeout | undefined;
let retentionRunning: Promise<void> | undefined;

const report = (error: unknown) =>
  port.postMessage({
    type: 'error',
    message: error instanceof Error ? error.message : String(error),
  } satisfies SearchWorkerMessage);

function indexLoop(): void {
  if (stopping) return;
  let indexed = 0;
  try {
    indexed = maintainer.indexNext(data.batchSize);
  } catch (error) {
    report(error);
  }
  indexTimer = setTimeout(indexLoop, indexed === data.batchSize ? 0 : data.idleMs);
}

function retentionLoop(): void {
  if (stopping) return;
  retentionRunning = enforceRetention(
    maintainer,
    data.retention,
    Date.now() * 1000,
    // A pass in progress gives up at its next pause once the store is closing.
    () =>
      new Promise((resolve, reject) =>
        setImmediate(() => (stopping ? reject(new Error('stopping')) : resolve())),
      ),
  )
    .then(() => undefined)
    .catch((error: unknown) => {
      if (!stopping) report(error);
    })
    .finally(() => {
      retentionRunning = undefined;
      if (!stopping) retentionTimer = setTimeout(retentionLoop, data.retention.intervalMs);
    });
}

port.on('message', (message: { type: 'stop' }) => {
  if (message.type !== 'stop' || stopping) return;
  stopping = true;
  clearTimeout(indexTimer);
  clearTimeout(retentionTimer);
  void (retentionRunning ?? Promise.resolve()).finally(() => {
    main.close();
    search.close();
    port.close();
  });
});

indexLoop();
retentionTimer = setTimeout(retentionLoop, Math.min(data.retention.intervalMs, 1000));
