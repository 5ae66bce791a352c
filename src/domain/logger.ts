/**
 * Where code below the server reports what happened: one message and its structured fields per
 * call. The server's implementation (`src/server/logger.ts`) writes JSON lines filtered by level.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
