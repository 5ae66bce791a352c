import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The server's own keys: one signs access tokens, one encrypts location and part secrets at
 * rest. `flotilla init` makes them in the data directory; replicas that share a PostgreSQL
 * database are given the same values through the environment instead.
 */
export interface ServerKeys {
  tokenSigningKey: Uint8Array;
  secretEncryptionKey: Buffer;
}

const KEYS_FILE = 'server-keys.json';

export const serverKeysFile = (dataDir: string): string => join(dataDir, KEYS_FILE);

/** True once `flotilla init` has run in this data directory. */
export const isInitialized = (dataDir: string): boolean => existsSync(serverKeysFile(dataDir));

/** True if the keys can be loaded: from the data directory, or both from the environment. */
export const hasServerKeys = (dataDir: string, env: NodeJS.ProcessEnv = process.env): boolean =>
  isInitialized(dataDir) || Boolean(env.FLOTILLA_TOKEN_SIGNING_KEY && env.FLOTILLA_SECRET_ENCRYPTION_KEY);

/**
 * What identifies a set of keys without revealing them: an HMAC of a fixed label under each key,
 * and the CA certificate's hash. Stored in the database at init, so a replica given other keys
 * (which could neither read the stored secrets nor accept the others' tokens) refuses to start.
 */
export function keysFingerprint(keys: ServerKeys, caCertificatePem: string): string {
  const mark = (key: Uint8Array) =>
    createHmac('sha256', key).update('flotilla server keys').digest('hex').slice(0, 32);
  const ca = createHash('sha256').update(caCertificatePem.trim()).digest('hex').slice(0, 32);
  return `token:${mark(keys.tokenSigningKey)} secrets:${mark(keys.secretEncryptionKey)} ca:${ca}`;
}

/** Fresh random keys. */
export const newServerKeys = (): ServerKeys => ({
  tokenSigningKey: randomBytes(32),
  secretEncryptionKey: randomBytes(32),
});

/** Writes the keys, readable by the owner only. Fails if the file exists. */
export function writeServerKeys(dataDir: string, keys: ServerKeys): void {
  const body = {
    version: 1,
    token_signing_key: Buffer.from(keys.tokenSigningKey).toString('base64'),
    secret_encryption_key: keys.secretEncryptionKey.toString('base64'),
  };
  writeFileSync(serverKeysFile(dataDir), JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
}

function decodeKey(value: string, name: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes, base64-encoded`);
  return key;
}

/**
 * Loads the keys: each from its environment variable when set
 * (FLOTILLA_TOKEN_SIGNING_KEY, FLOTILLA_SECRET_ENCRYPTION_KEY), else from the data directory.
 */
export function loadServerKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env): ServerKeys {
  const fromEnvSigning = env.FLOTILLA_TOKEN_SIGNING_KEY;
  const fromEnvSecret = env.FLOTILLA_SECRET_ENCRYPTION_KEY;
  let file: { token_signing_key?: string; secret_encryption_key?: string } = {};
  if (!fromEnvSigning || !fromEnvSecret) {
    file = JSON.parse(readFileSync(serverKeysFile(dataDir), 'utf8')) as typeof file;
  }
  return {
    tokenSigningKey: decodeKey(fromEnvSigning ?? file.token_signing_key ?? '', 'FLOTILLA_TOKEN_SIGNING_KEY'),
    secretEncryptionKey: decodeKey(
      fromEnvSecret ?? file.secret_encryption_key ?? '',
      'FLOTILLA_SECRET_ENCRYPTION_KEY',
    ),
  };
}
