import type { Kysely } from 'kysely';
import { failedPrecondition } from '../domain/errors.js';
import type { Authorizer } from '../authz/authorizer.js';
import type { CertificateAuthority } from '../crypto/certificate-authority.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { ChangeTracker } from '../store/change-tracker.js';
import type { Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';

/** Settings the fleet services need from the server's configuration. */
export interface FleetSettings {
  /** Parts are addressed as `<dns name>.<location id>.<domain>`. */
  domain: string;
  /**
   * Where machines and invitees reach this server, always with a port (viam.json's
   * `app_address`, invite links, package URLs): FLOTILLA_PUBLIC_URL, else the listen address;
   * empty when the server listens on a wildcard address and no public URL is set.
   */
  publicUrl: string;
  /** Whether the server's own listener speaks TLS (used when no public URL says). */
  tls: boolean;
  /** How often machines should ask whether to restart, in seconds. */
  restartCheckIntervalSeconds: number;
}

/** The public URL, or FAILED_PRECONDITION asking for FLOTILLA_PUBLIC_URL when there is none. */
export function requirePublicUrl(settings: FleetSettings): string {
  if (settings.publicUrl === '') {
    throw failedPrecondition(
      'the server listens on a wildcard address and has no public URL: set FLOTILLA_PUBLIC_URL to the address machines and people reach it at',
    );
  }
  return settings.publicUrl;
}

/**
 * Whether machines are told their signaling is insecure (viam-server then asks for no TLS
 * certificate): when the public URL is not https, or, without one, when the listener has no TLS.
 */
export const signalingInsecure = (settings: FleetSettings): boolean =>
  settings.publicUrl === '' ? !settings.tls : !settings.publicUrl.startsWith('https://');

/** What every service is built from: injected by the composition root, never global. */
export interface ServiceDeps {
  db: Kysely<Database>;
  repos: Repositories;
  authz: Authorizer;
  secrets: SecretBox;
  settings: FleetSettings;
  certificates: CertificateAuthority;
  /** What the repositories report writing; the in-memory caches check it. */
  changes: ChangeTracker;
  /** The audit log's recorder: services add what only they know (a changed config, a new caller). */
  audit: AuditRecorder;
}
