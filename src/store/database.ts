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
  type KyselyConfig,
  type SqliteDialectConfig,
} from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import pg from 'pg';
import { migrations } from './migrations/index.js';
import { ADVISORY_LOCKS, withAdvisoryLock } from './advisory-lock.js';
import type { LogRetention, PartLogStore } from './part-log-store.js';
import { PostgresPartLogStore } from './postgres-part-log-store.js';
import type { PostgresNotifications } from './postgres-notifications.js';
import type { Database } from './schema.js';
import { SqlitePartLogStore } from './sqlite-part-log-store.js';

export type Dialect = 'sqlite' | 'postgres';

/** Where the data lives: a SQLite file in the data directory, or a PostgreSQL URL. */
export type DatabaseTarget = { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; url: string };

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** PostgreSQL: the pool's connections right now (for metrics); undefined on SQLite. */
  poolConnections?: (() => PoolConnections) | undefined;
  close(): Promise<void>;
}

/** A PostgreSQL pool's connections: open, idle among them, and calls waiting for one. */
export interface PoolConnections {
  total: number;
  idle: number;
  waiting: number;
}

/** Hears how long each query took (metrics); without one, Kysely measures nothing. */
export interface QueryObserver {
  /** A query ended, successfully or not, after `seconds`. Streamed queries are not reported. */
  queryEnded(seconds: number): void;
}

/** Kysely's `log` option reporting query durations to `observer`, if there is one. */
const queryLog = (observer: QueryObserver | undefined): KyselyConfig['log'] =>
  observer &&
  ((event) => {
    // A streamed query's time is mostly its reader's.
    if (event.level === 'query' && event.isStream === true) return;
    observer.queryEnded(event.queryDurationMillis / 1000);
  });

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

/** How a replica's PostgreSQL pool behaves (FLOTILLA_DATABASE_POOL_SIZE, FLOTILLA_DATABASE_CONNECT_TIMEOUT). */
export interface PoolSettings {
  /** Most connections the pool opens. */
  max: number;
  /** How long a call waits to get a connection (to connect, or for a busy pool) before failing UNAVAILABLE. */
  connectTimeoutMs: number;
}

export const DEFAULT_POOL_SETTINGS: PoolSettings = { max: 10, connectTimeoutMs: 5000 };

/** Idle connections are closed after this long, so a restarted database is met with fresh ones. */
const POOL_IDLE_TIMEOUT_MS = 30_000;

/**
 * Opens the database (creating a SQLite file if needed). Does not migrate. `queries` hears every
 * query's duration (metrics).
 */
export function openDatabase(
  target: DatabaseTarget,
  poolSettings = DEFAULT_POOL_SETTINGS,
  queries?: QueryObserver,
): OpenDatabase {
  if (target.dialect === 'sqlite') {
    if (target.file !== ':memory:') mkdirSync(join(target.file, '..'), { recursive: true });
    const sqlite = new SQLite(target.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({
      dialect: new ImmediateTransactionDialect({ database: reusingStatements(sqlite) }),
      log: queryLog(queries),
    });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: poolSettings.max,
    connectionTimeoutMillis: poolSettings.connectTimeoutMs,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
    keepAlive: true,
  });
  // A connection that drops while idle must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: queryLog(queries) });
  return {
    db,
    dialect: 'postgres',
    poolConnections: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy(),
  };
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** The schema version this code knows: its newest migration's name. */
export const CODE_SCHEMA_VERSION = Object.keys(migrations).sort().at(-1) ?? '';

/** Refused to start: the database was migrated by newer code than this. */
export class SchemaTooNewError extends Error {}

/**
 * Brings the schema up to date; throws if a migration fails, or if the database has migrations
 * this code does not know (newer code migrated it: running older code on it could corrupt it).
 * On PostgreSQL, under an advisory lock, so replicas starting together migrate once.
 */
export async function migrate({ db, dialect }: Pick<OpenDatabase, 'db' | 'dialect'>): Promise<void> {
  const run = async () => {
    await refuseNewerSchema(db);
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      const reason = error instanceof Error ? error.message : 'unknown error';
      throw new Error(`database migration ${failed} failed: ${reason}`, { cause: error });
    }
  };
  if (dialect === 'postgres') await withAdvisoryLock(db, ADVISORY_LOCKS.migrations, run);
  else await run();
}

async function refuseNewerSchema(db: Kysely<Database>): Promise<void> {
  const applied = await appliedMigrations(db);
  if (applied.some((name) => !(name in migrations))) {
    const schema = [...applied].sort().at(-1);
    throw new SchemaTooNewError(
      `the database schema is at version ${schema}, newer than this flotilla's ${CODE_SCHEMA_VERSION}; ` +
        'run the newer flotilla (or restore a backup made before it migrated)',
    );
  }
}

/** Names of the migrations run on this database (none on a fresh one). */
async function appliedMigrations(db: Kysely<Database>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration')) return [];
  const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  return rows.map((r) => r.name);
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

/**
 * Opens the machine-log store for a migrated database: SQLite's, or PostgreSQL's, which hears
 * other replicas' logs through the replica's notification connection.
 */
export function openPartLogStore(
  target: DatabaseTarget,
  db: Kysely<Database>,
  notifications: PostgresNotifications | undefined,
  retention: LogRetention,
  onError: (message: string) => void,
): PartLogStore {
  if (target.dialect === 'sqlite') return new SqlitePartLogStore(target.file, retention, onError);
  if (!notifications) throw new Error('the PostgreSQL log store needs the notification connection');
  return new PostgresPartLogStore(db, notifications, retention, onError);
}
