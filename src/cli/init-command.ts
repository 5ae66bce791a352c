import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServerKeys, isInitialized } from '../crypto/server-keys.js';
import { bootstrap, type BootstrapInput, type BootstrapResult } from '../services/bootstrap-service.js';
import { composeServices, fleetSettings } from '../server/composition-root.js';
import { databaseTarget, migrate, openDatabase } from '../store/database.js';

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
    // The keys are written last, so init makes throwaway ones for the services it uses (it
    // creates no secrets and mints no tokens).
    const keys = { tokenSigningKey: randomBytes(32), secretEncryptionKey: randomBytes(32) };
    const { repos, services } = composeServices({
      db: database.db,
      dataDir,
      keys,
      settings: fleetSettings(undefined),
      tokenTtlSeconds: 60,
    });
    const result = await bootstrap(database.db, repos, services, input);
    createServerKeys(dataDir);
    return result;
  } finally {
    await database.close();
  }
}
