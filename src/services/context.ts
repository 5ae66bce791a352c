import type { Kysely } from 'kysely';
import type { Authorizer } from '../authz/authorizer.js';
import type { CertificateAuthority } from '../crypto/certificate-authority.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';

/** Settings the fleet services need from the server's configuration. */
export interface FleetSettings {
  /** Parts are addressed as `<dns name>.<location id>.<domain>`. */
  domain: string;
  /** The address machines use to reach this server (their viam.json `app_address`). */
  publicUrl: string;
  /** Whether the server speaks TLS (machines are told to signal insecurely when not). */
  tls: boolean;
  /** How often machines should ask whether to restart, in seconds. */
  restartCheckIntervalSeconds: number;
}

/** What every service is built from: injected by the composition root, never global. */
export interface ServiceDeps {
  db: Kysely<Database>;
  repos: Repositories;
  authz: Authorizer;
  secrets: SecretBox;
  settings: FleetSettings;
  certificates: CertificateAuthority;
}
