import { mkdirSync } from 'node:fs';
import { CertificateAuthority } from '../crypto/certificate-authority.js';
import { isInitialized, keysFingerprint, newServerKeys, writeServerKeys } from '../crypto/server-keys.js';
import { bootstrap, type BootstrapInput, type BootstrapResult } from '../services/bootstrap-service.js';
import { composeServices, fleetSettings } from '../server/composition-root.js';
import { databaseTarget, migrate, openDatabase } from '../store/database.js';
import { isDatabaseInitialized, settleServerSetting } from '../store/server-settings.js';

export class AlreadyInitializedError extends Error {}

/**
 * Initializes a data directory: the database with its schema, the first user, organization and
 * owner key, the machine CA, then the server keys (written last: their presence marks the
 * directory initialized). On PostgreSQL the directory holds what every replica is then given; a
 * database initialized before is refused (its keys are elsewhere, and a second set could not
 * read what the first encrypted).
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
    await migrate(database);
    if (await isDatabaseInitialized(database.db)) {
      throw new AlreadyInitializedError(
        'the database is already initialized; give this server a copy of the data directory its first `flotilla init` wrote',
      );
    }
    const keys = newServerKeys();
    CertificateAuthority.ensureIn(dataDir);
    const certificates = CertificateAuthority.loadFrom(dataDir);
    const { deps, audit, repos, services } = composeServices({
      db: database.db,
      dataDir,
      keys,
      certificates,
      settings: fleetSettings(undefined),
      tokenTtlSeconds: 60,
    });
    const result = await audit.run(
      {
        service: 'cli',
        method: 'Init',
        principal: { kind: 'system', id: 'flotilla init', name: 'flotilla init' },
      },
      () => bootstrap(deps.db, repos, services, input),
    );
    await settleServerSetting(
      database.db,
      'keys_fingerprint',
      keysFingerprint(keys, certificates.certificatePem),
    );
    writeServerKeys(dataDir, keys);
    return result;
  } finally {
    await database.close();
  }
}
