import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import pg from 'pg';
import { migrations } from './migrations/index.js';
import type { LogRetention, PartLogStore } from './part-log-store.js';
import { PostgresPartLogStore } from './postgres-part-log-store.js';
import type { Database } from './schema.js';
import { SqlitePartLogStore } from './sqlite-part-log-store.js';

export type Dialect = 'sqlite' | 'postgres';

/** Where the data lives: a SQLite file in the data directory, or a PostgreSQL URL. */
export type DatabaseTarget = { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; url: string };

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** The SQLite file used for a data directory. */
export const sqliteFileIn = (dataDir: string): string => join(dataDir, 'flotilla.sqlite');

/** Chooses the database: PostgreSQL when a URL is given, else SQLite in the data directory. */
export function databaseTarget(dataDir: string, databaseUrl: string | undefined): DatabaseTarget {
  return databaseUrl
    ? { dialect: 'postgres', url: databaseUrl }
    : { dialect: 'sqlite', file: sqliteFileIn(dataDir) };
}

// PostgreSQL returns COUNT(*) and BIGINT as strings; the store only counts small sets.
pg.types.setTypeParser(20, (value: string) => Number(value));

/**
 * Kysely's SQLite driver, with transactions that take the write lock when they begin. Other
 * connections write to the same file (the log writer and search threads); a deferred
 * transaction that has read and then tries to write after one of them committed fails at once
 * with SQLITE_BUSY (the busy timeout does not apply to that upgrade). Beginning IMMEDIATE waits
 * for the lock instead. Transactions on this one connection already run one at a time.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateTransactionDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateTransactionDriver(this.settings);
  }
}

/** Statements kept prepared per SQLite connection (by SQL text). */
const PREPARED_STATEMENTS_KEPT = 1000;

/**
 * The connection as Kysely's SQLite driver sees it, with prepared statements reused: the driver
 * prepares every query it runs, and preparing (parsing and planning the SQL) costs more than
 * running most of them. Queries are built from fixed shapes, so the same texts recur. A
 * statement still running (an open iterator) is not shared.
 */
function reusingStatements(sqlite: SQLite.Database): SqliteDialectConfig['database'] {
  const prepared = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      const known = prepared.get(text);
      if (known && !known.busy) return known;
      const statement = sqlite.prepare(text);
      if (!known) {
        prepared.set(text, statement);
        if (prepared.size > PREPARED_STATEMENTS_KEPT) {
          const oldest = prepared.keys().next();
          if (!oldest.done) prepared.delete(oldest.value);
        }
      }
      return statement;
    },
  };
}

/** Opens the database (creating a SQLite file if needed). Does not migrate. */
export function openDatabase(target: DatabaseTarget): OpenDatabase {
  if (target.dialect === 'sqlite') {
    if (target.file !== ':memory:') mkdirSync(join(target.file, '..'), { recursive: true });
    const sqlite = new SQLite(target.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({
      dialect: new ImmediateTransactionDialect({ database: reusingStatements(sqlite) }),
    });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({ connectionString: target.url, max: 10 });
  // A connection that drops while idle must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** Brings the schema up to date; throws if a migration fails. */
export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = error instanceof Error ? error.message : 'unknown error';
    throw new Error(`database migration ${failed} failed: ${reason}`, { cause: error });
  }
}

/** True when the database answers a trivial query. */
export async function isReachable(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** Opens the machine-log store for a migrated database: SQLite's or PostgreSQL's. */
export async function openPartLogStore(
  target: DatabaseTarget,
  db: Kysely<Database>,
  retention: LogRetention,
  onError: (message: string) => void,
): Promise<PartLogStore> {
  return target.dialect === 'sqlite'
    ? new SqlitePartLogStore(target.file, retention, onError)
    : PostgresPartLogStore.open(db, target.url, retention, onError);
}
