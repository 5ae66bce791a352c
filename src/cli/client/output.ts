import { Code, ConnectError } from '@connectrpc/connect';

export type Io = { out: (s: string) => void; err: (s: string) => void };

/** Whether to colour: only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export const useColour = (env: NodeJS.ProcessEnv, isTty: boolean): boolean =>
  isTty && (env.NO_COLOR === undefined || env.NO_COLOR === '');

/** A column of a table: its heading and how to show a row's value. */
export interface Column<T> {
  heading: string;
  value: (row: T) => string;
}

/**
 * What a command prints: with `--json`, one JSON document on stdout and nothing else there;
 * otherwise readable text (tables with a bold heading on a terminal).
 */
export class Output {
  constructor(
    private readonly io: Io,
    readonly json: boolean,
    private readonly colour: boolean,
  ) {}

  /** Prints `value` as JSON, or as the text `text` makes of it. */
  result<T>(value: T, text: (value: T) => string): void {
    if (this.json) this.io.out(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const shown = text(value);
      if (shown !== '') this.io.out(shown.endsWith('\n') ? shown : `${shown}\n`);
    }
  }

  /** Rows as JSON, or as a table of `columns`. */
  rows<T>(rows: readonly T[], columns: readonly Column<T>[]): void {
    this.result(rows, () => this.table(rows, columns));
  }

  /** A plain-text table: columns padded to their widest cell. */
  table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
    if (rows.length === 0) return '(none)';
    const cells = rows.map((row) => columns.map((c) => c.value(row)));
    const widths = columns.map((c, i) =>
      Math.max(c.heading.length, ...cells.map((r) => (r[i] ?? '').length)),
    );
    const line = (values: readonly string[]) =>
      values
        .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    const heading = line(columns.map((c) => c.heading.toUpperCase()));
    return [this.colour ? `\u001b[1m${heading}\u001b[0m` : heading, ...cells.map(line)].join('\n');
  }

  /** A line of information on stderr (stdout stays the result's). */
  note(message: string): void {
    this.io.err(`${message}\n`);
  }
}

/** The name of a status code as gRPC writes it (`NOT_FOUND`). */
export const codeName = (code: Code): string =>
  (Code[code] ?? 'UNKNOWN').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

/** One line for a failed command: the server's code and message, never a stack. */
export function describeFailure(error: unknown): string {
  if (error instanceof ConnectError) return `${codeName(error.code)}: ${error.rawMessage}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
