import { randomBytes } from 'node:crypto';
import { loadServerConfig } from '../config.js';
import { loadServerKeys } from '../crypto/server-keys.js';
import { composeServices, fleetSettings } from '../server/composition-root.js';
import { databaseTarget, migrate, openDatabase } from '../store/database.js';

/**
 * The accept link of a pending invite, rebuilt from the database on the server's host: the token
 * is stored sealed with the server's secret-encryption key (from the data directory or
 * FLOTILLA_SECRET_ENCRYPTION_KEY). The link starts with FLOTILLA_PUBLIC_URL, else the listen address.
 */
export async function inviteLink(
  dataDir: string | undefined,
  organizationId: string,
  email: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const config = loadServerConfig({ dataDir }, env);
  const keys = loadServerKeys(config.dataDir, env);
  const database = openDatabase(databaseTarget(config.dataDir, config.databaseUrl));
  try {
    await migrate(database);
    // Tokens are not minted here, so a throwaway signing key will do.
    const { services } = composeServices({
      db: database.db,
      dataDir: config.dataDir,
      keys: { ...keys, tokenSigningKey: randomBytes(32) },
      // The link names the configured port: this process does not listen.
      settings: fleetSettings(config, config.port),
      tokenTtlSeconds: 60,
    });
    return await services.members.inviteLink(organizationId, email);
  } finally {
    await database.close();
  }
}
