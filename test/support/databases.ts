import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';

/** A database for one test suite: a temp SQLite file (the default) or a fresh PostgreSQL database. */
export interface TestDatabase {
  dialect: 'sqlite' | 'postgres';
  /** Set for PostgreSQL; undefined means SQLite in the data directory. */
  databaseUrl: string | undefined;
  drop(): Promise<void>;
}

const PG_URL = process.env.FLOTILLA_TEST_DATABASE_URL;

/** A fresh, empty PostgreSQL database on the test server, dropped by `drop()`. */
async function freshPostgres(adminUrl: string): Promise<TestDatabase> {
  const name = `flotilla_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    dialect: 'postgres',
    databaseUrl: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export type DialectName = 'sqlite' | 'postgres';

/**
 * Runs a suite once per dialect: always on SQLite; on PostgreSQL when FLOTILLA_TEST_DATABASE_URL
 * is set. Without it the PostgreSQL suite is reported as skipped, and under CI=true it fails.
 */
export function forEachDialect(
  name: string,
  suite: (newDatabase: () => Promise<TestDatabase>, dialect: DialectName) => void,
): void {
  describe(`${name} [sqlite]`, () =>
    suite(
      () => Promise.resolve({ dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() }),
      'sqlite',
    ));
  onPostgres(name, (newDatabase) => suite(newDatabase, 'postgres'));
}

/**
 * Runs a suite on PostgreSQL only (for code with no SQLite side), as `${name} [postgres]`: skipped
 * without FLOTILLA_TEST_DATABASE_URL, and failing then under CI=true.
 */
export function onPostgres(name: string, suite: (newDatabase: () => Promise<TestDatabase>) => void): void {
  if (PG_URL) {
    describe(`${name} [postgres]`, () => suite(() => freshPostgres(PG_URL)));
  } else if (process.env.CI === 'true') {
    describe(`${name} [postgres]`, () => {
      it('needs FLOTILLA_TEST_DATABASE_URL under CI=true', () => {
        throw new Error('FLOTILLA_TEST_DATABASE_URL is not set, so the PostgreSQL suite cannot run');
      });
    });
  } else {
    describe(`${name} [postgres]`, { skip: 'FLOTILLA_TEST_DATABASE_URL is not set' }, () => {});
  }
}
