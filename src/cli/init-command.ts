import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { Authorizer } from '../authz/authorizer.js';
import { SecretBox } from '../crypto/secret-box.js';
import { createServerKeys, isInitialized } from '../crypto/server-keys.js';
import { bootstrap, type BootstrapInput, type BootstrapResult } from '../services/bootstrap-service.js';
import { createServices } from '../services/index.js';
import { databaseTarget, migrate, openDatabase } from '../store/database.js';
import { createRepositories } from '../store/index.js';

export class AlreadyInitializedError extends Error {}

/**
 * Initializes a data directory: the database with its schema, the first user, organization and
 * owner key, then the server keys (written last: their presence marks the directory initialized).
 */
export async function initializeDataDir(
  dataDir: string,
  databaseUrl: string | undefined,
  input: BootstrapInput,
): Promise<BootstrapResult> {
  if (isInitialized(dataDir)) throw new AlreadyInitializedError(`${dataDir} is already initialized`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const database = openDatabase(databaseTarget(dataDir, databaseUrl));
  try {
    await migrate(database.db);
    const repos = createRepositories();
    // init creates no secrets, so a throwaway key serves the services it uses.
    const deps = {
      db: database.db,
      repos,
      authz: new Authorizer(repos),
      secrets: new SecretBox(randomBytes(32)),
    };
    const result = await bootstrap(database.db, repos, createServices(deps), input);
    createServerKeys(dataDir);
    return result;
  } finally {
    await database.close();
  }
}
