import SQLite from 'better-sqlite3';
import pg from 'pg';
import { sqliteFileIn } from '../../src/store/database.js';
import type { TestDatabase } from './databases.js';

/**
 * Writes a part's config behind the services' back, as an older version of Flotilla could have
 * stored it (one today's rules refuse on save).
 */
export async function storePartConfigDirectly(
  database: TestDatabase,
  dataDir: string,
  partId: string,
  config: unknown,
): Promise<void> {
  const json = JSON.stringify(config);
  if (database.databaseUrl) {
    const client = new pg.Client({ connectionString: database.databaseUrl });
    await client.connect();
    try {
      await client.query('update robot_parts set config = $1 where id = $2', [json, partId]);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new SQLite(sqliteFileIn(dataDir), { fileMustExist: true, timeout: 5000 });
  try {
    db.prepare('update robot_parts set config = ? where id = ?').run(json, partId);
  } finally {
    db.close();
  }
}
