/* What the SQLite log store and its writer thread (`sqlite-log-writer-worker.ts`) say to each other. */

/** What the store hands the writer. */
export interface WriterWorkerData {
  mainFile: string;
}

/**
 * Fields of one entry, flattened in this order (cheaper to pass between threads than objects),
 * as the table stores them: caller and fields already JSON text (`encodeLogCaller`,
 * `encodeLogFields`), encoded by the store before it posts them.
 */
export const ROW_FIELDS = 8; // host, level, timeUs, loggerName, message, caller, stack, fields

/** The store asks: store one Log call's entries for a part (stored: false if there is no such part). */
export interface AppendRequest {
  type: 'append';
  id: number;
  partId: string;
  /** ROW_FIELDS values per entry (the time a bigint, which is bound exactly as a 64-bit integer). */
  values: (string | bigint | null)[];
}

/** The store asks: record these parts' last calls (written behind, see PartAccessLog). */
export interface AccessRequest {
  type: 'access';
  id: number;
  /** [part id, time, agent info JSON or null] per part. */
  rows: [string, string, string | null][];
}

export type AppendOutcome =
  | { id: number; stored: true; firstSeq: number }
  | { id: number; stored: false }
  | { id: number; error: string };

/** What the writer tells the store. */
export type WriterMessage = { type: 'flushed'; outcomes: AppendOutcome[] };
